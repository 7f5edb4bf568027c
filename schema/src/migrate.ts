/**
 * The plain migrator: applies the committed SQL migrations in `schema/drizzle/` in order,
 * recording each in its own table, `toolbelt_migrations`. A database that has migrations this
 * code does not know is refused: it was migrated by a newer toolbelt.
 *
 * Everything runs in toolbelt's own schema (the connection's `search_path`, see db.ts): the
 * migrator creates it, and drops drizzle-kit's `"public".` qualifier from the statements it
 * runs so that every name resolves there (the hash stays the committed file's). A database
 * migrated before toolbelt had its own schema keeps its migrations table in `public`: that
 * table is moved first, then migration 0007 moves the rest.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import { DB_SCHEMA_NAME, type Db } from './db.ts';
import { ToolbeltError } from './errors.ts';
import { rowsOf } from './raw.ts';

const MIGRATIONS_DIR = new URL('../drizzle/', import.meta.url);
/** Namespaced advisory-lock key so that two replicas starting at once migrate one at a time. */
const MIGRATION_LOCK_KEY = 0x7001_0001;
/** drizzle-kit qualifies foreign-key targets with `"public".`; toolbelt's live in its schema. */
const PUBLIC_QUALIFIER = '"public".';

export interface Migration {
  id: number;
  tag: string;
  hash: string;
  statements: string[];
}

export interface MigrationResult {
  applied: string[];
  current: string | undefined;
}

/** The migrations shipped with this code, in order. */
export function loadMigrations(dir: URL = MIGRATIONS_DIR): Migration[] {
  const journal = JSON.parse(readFileSync(new URL('meta/_journal.json', dir), 'utf8')) as {
    entries: { idx: number; tag: string }[];
  };
  return journal.entries.map(({ idx, tag }) => {
    const text = readFileSync(new URL(`${tag}.sql`, dir), 'utf8');
    return {
      id: idx,
      tag,
      hash: createHash('sha256').update(text).digest('hex'),
      statements: text
        .split('--> statement-breakpoint')
        .map((s) => s.trim().replaceAll(PUBLIC_QUALIFIER, ''))
        .filter((s) => s.length > 0),
    };
  });
}

/** Applies every pending migration in one transaction; refuses a database newer than the code. */
export async function migrate(db: Db, migrations: Migration[] = loadMigrations()): Promise<MigrationResult> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    const schema = await ownSchema(tx);
    await tx.execute(sql.raw(`create schema if not exists ${schema}`));
    await adoptPublicMigrationsTable(tx, schema, migrations);
    await tx.execute(sql`create table if not exists toolbelt_migrations (
      id integer primary key,
      tag text not null,
      hash text not null,
      applied_at timestamptz not null default now()
    )`);
    const applied = rowsOf<{ id: number; tag: string; hash: string }>(
      await tx.execute(sql`select id, tag, hash from toolbelt_migrations order by id`),
    );
    checkApplied(applied, migrations);
    const done = new Set(applied.map((m) => m.id));
    const pending = migrations.filter((m) => !done.has(m.id));
    for (const migration of pending) {
      for (const statement of migration.statements) await tx.execute(sql.raw(statement));
      await tx.execute(
        sql`insert into toolbelt_migrations (id, tag, hash) values (${migration.id}, ${migration.tag}, ${migration.hash})`,
      );
    }
    return { applied: pending.map((m) => m.tag), current: migrations.at(-1)?.tag };
  });
}

/** The schema named by the connection's search_path (a plain identifier: see db.ts). */
async function ownSchema(db: Db): Promise<string> {
  const rows = rowsOf<{ path: string }>(await db.execute(sql`select current_setting('search_path') as path`));
  const path = rows[0]?.path ?? '';
  if (!DB_SCHEMA_NAME.test(path)) {
    throw new ToolbeltError('DB_SEARCH_PATH', `the connection's search_path is ${JSON.stringify(path)}, not one schema`, {
      hint: 'open the database with openDatabase (it sets search_path to toolbelt\'s schema); behind a pooler that drops it, set it on the role: ALTER ROLE … SET search_path = toolbelt',
    });
  }
  return path;
}

/**
 * A database migrated before toolbelt had its own schema has `public.toolbelt_migrations`:
 * when the schema has none yet, that table is moved in (so its record of 0000–0006 holds and
 * migration 0007 moves the rest). Only a table that is toolbelt's — its first row is
 * toolbelt's first migration — is moved; anything else in `public` is left alone.
 */
async function adoptPublicMigrationsTable(db: Db, schema: string, known: Migration[]): Promise<void> {
  if (schema === 'public') return;
  const rows = rowsOf<{ mine: string | null; legacy: string | null }>(
    await db.execute(sql`select to_regclass(${`${schema}.toolbelt_migrations`})::text as mine,
      to_regclass('public.toolbelt_migrations')::text as legacy`),
  );
  if (rows[0]?.mine || !rows[0]?.legacy) return;
  const first = rowsOf<{ tag: string; hash: string }>(
    await db.execute(sql`select tag, hash from public.toolbelt_migrations order by id limit 1`),
  );
  if (first[0]?.tag !== known[0]?.tag || first[0]?.hash !== known[0]?.hash) return;
  await db.execute(sql.raw(`alter table public.toolbelt_migrations set schema ${schema}`));
}

function checkApplied(applied: { id: number; tag: string; hash: string }[], known: Migration[]): void {
  const byId = new Map(known.map((m) => [m.id, m]));
  for (const row of applied) {
    const mine = byId.get(row.id);
    if (!mine) {
      throw new ToolbeltError(
        'DB_SCHEMA_TOO_NEW',
        `the database schema is at migration ${row.tag}, newer than this toolbelt knows (${known.at(-1)?.tag ?? 'none'})`,
        { hint: 'run the toolbelt version that migrated it (or newer), or point DATABASE_URL at another database' },
      );
    }
    if (mine.tag !== row.tag || mine.hash !== row.hash) {
      throw new ToolbeltError('DB_MIGRATION_CHANGED', `migration ${row.tag} was changed after it was applied`, {
        hint: 'migrations are append-only: restore the original file and add a new migration instead',
      });
    }
  }
}

/** Whether every shipped migration has been applied (for readiness). */
export async function isMigrated(db: Db, migrations: Migration[] = loadMigrations()): Promise<boolean> {
  const exists = rowsOf<{ t: string | null }>(await db.execute(sql`select to_regclass('toolbelt_migrations')::text as t`));
  if (!exists[0]?.t) return false;
  const rows = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from toolbelt_migrations`));
  return (rows[0]?.n ?? 0) >= migrations.length;
}
