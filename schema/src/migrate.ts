/**
 * The plain migrator: applies the committed SQL migrations in `schema/drizzle/` in order,
 * recording each in its own table, `toolbelt_migrations`. A database that has migrations this
 * code does not know is refused: it was migrated by a newer toolbelt.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import type { Db } from './db.ts';
import { ToolbeltError } from './errors.ts';
import { rowsOf } from './raw.ts';

const MIGRATIONS_DIR = new URL('../drizzle/', import.meta.url);
/** Namespaced advisory-lock key so that two replicas starting at once migrate one at a time. */
const MIGRATION_LOCK_KEY = 0x7001_0001;

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
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    };
  });
}

/** Applies every pending migration in one transaction; refuses a database newer than the code. */
export async function migrate(db: Db, migrations: Migration[] = loadMigrations()): Promise<MigrationResult> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
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
