/**
 * Test fixtures shared by every room: a migrated database of each kind per test file, and a
 * way to skip loudly when the machine lacks something — a skip that fails the run when
 * `TOOLBELT_REQUIRE_ALL=1` (CI sets it), so CI never passes by skipping.
 *
 * - PGlite: one migrated instance per test worker (each costs seconds and hundreds of MB),
 *   emptied before each file by truncating every table.
 * - Postgres (`TEST_DATABASE_URL`): a template database migrated once per migration set; each
 *   file gets its own `CREATE DATABASE … TEMPLATE` clone, dropped when the file ends.
 */
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type Database, type DatabaseKind, type Db, openDatabase } from './db.ts';
import { loadMigrations, migrate } from './migrate.ts';
import { rowsOf } from './raw.ts';

export const DATABASE_KINDS: readonly DatabaseKind[] = ['pglite', 'postgres'];

/** Whether missing prerequisites must fail the run instead of skipping (CI). */
export const requireAll = (): boolean => process.env.TOOLBELT_REQUIRE_ALL === '1';

/**
 * `describe` when `available`, otherwise a loud skip — or, under TOOLBELT_REQUIRE_ALL=1, a
 * failing test that names what is missing.
 */
export function describeIf(available: boolean, reason: string): SuiteFn {
  if (available) return describe;
  if (requireAll()) {
    return (name) =>
      describe(name, () => {
        it(`has what it needs (TOOLBELT_REQUIRE_ALL=1): ${reason}`, () => {
          throw new Error(`required but unavailable: ${reason}`);
        });
      });
  }
  console.warn(`\n⚠️  SKIPPED: ${reason}\n`);
  return (name, body) => describe.skip(name, body);
}

/** A suite declaration: a name and the function that declares its tests. */
export type SuiteFn = (name: string, body: () => void) => void;

/** A database for one test file. */
export interface TestDatabase {
  readonly kind: DatabaseKind;
  /** The open database (valid inside tests and hooks). */
  readonly database: Database;
  readonly db: Db;
  /** Postgres only: the URL of this file's own database, for child processes. */
  readonly url: string | undefined;
}

/**
 * Runs `suite` once per database kind, each with its own freshly migrated, empty database.
 * The Postgres half needs TEST_DATABASE_URL; without it, it skips loudly (see describeIf).
 * A suite that cannot apply to one kind by design declares nothing for it — it starts with
 * `if (t.kind !== 'postgres') return;` — rather than skipping (a skip means "missing").
 */
export function describeEachDatabase(name: string, suite: (t: TestDatabase) => void): void {
  for (const kind of DATABASE_KINDS) {
    const available = kind === 'pglite' || Boolean(process.env.TEST_DATABASE_URL);
    const describeKind = describeIf(available, `${name} [postgres]: TEST_DATABASE_URL is not set`);
    describeKind(`${name} [${kind}]`, () => {
      const handle = lazyTestDatabase(kind);
      beforeAll(() => handle.open());
      afterAll(() => handle.close());
      suite(handle.view);
    });
  }
}

function lazyTestDatabase(kind: DatabaseKind) {
  let current: { database: Database; url: string | undefined; close: () => Promise<void> } | undefined;
  const get = () => {
    if (!current) throw new Error('the test database is used outside a test or hook');
    return current;
  };
  const view: TestDatabase = {
    kind,
    get database() {
      return get().database;
    },
    get db() {
      return get().database.db;
    },
    get url() {
      return get().url;
    },
  };
  return {
    view,
    async open() {
      current = kind === 'pglite' ? await sharedPglite() : await clonePostgres();
    },
    async close() {
      await current?.close();
      current = undefined;
    },
  };
}

// --- PGlite: one per worker, emptied per file -------------------------------------------

const PGLITE_KEY = Symbol.for('toolbelt.test.pglite');
type GlobalWithPglite = typeof globalThis & { [PGLITE_KEY]?: Promise<Database> };

async function sharedPglite() {
  const global = globalThis as GlobalWithPglite;
  global[PGLITE_KEY] ??= (async () => {
    const database = await openDatabase({ dataDir: 'memory://' });
    await migrate(database.db);
    return database;
  })();
  const database = await global[PGLITE_KEY];
  await truncateAll(database.db);
  return { database, url: undefined, close: async () => {} };
}

/** Empties every toolbelt table (not the migrations record). */
export async function truncateAll(db: Db): Promise<void> {
  const tables = rowsOf<{ name: string }>(
    await db.execute(sql`select quote_ident(tablename) as name from pg_tables
      where schemaname = current_schema() and tablename <> 'toolbelt_migrations'`),
  );
  if (tables.length === 0) return;
  await db.execute(sql.raw(`truncate ${tables.map((t) => t.name).join(', ')} restart identity cascade`));
}

// --- Postgres: a template per migration set, a clone per file ---------------------------

let templateReady: Promise<string> | undefined;

function templateName(): string {
  const hash = createHash('sha256');
  for (const m of loadMigrations()) hash.update(m.hash);
  return `toolbelt_tpl_${hash.digest('hex').slice(0, 12)}`;
}

function urlFor(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

async function ensureTemplate(adminUrl: string): Promise<string> {
  const name = templateName();
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  // CREATE DATABASE cannot run in a transaction: serialise workers with a session lock.
  const session = await admin.reserve();
  try {
    await session`select pg_advisory_lock(${0x7001_0002})`;
    const [exists] = await session`select 1 from pg_database where datname = ${name}`;
    if (!exists) await buildTemplate(session, adminUrl, name);
    await session`select pg_advisory_unlock(${0x7001_0002})`;
  } finally {
    session.release();
    await admin.end();
  }
  return name;
}

async function buildTemplate(session: postgres.Sql, adminUrl: string, name: string): Promise<void> {
  const building = `${name}_building`;
  await session.unsafe(`drop database if exists ${building} with (force)`);
  await session.unsafe(`create database ${building}`);
  const database = await openDatabase({ url: urlFor(adminUrl, building), maxConnections: 1 });
  try {
    await migrate(database.db);
  } finally {
    await database.close();
  }
  // Renamed only once complete, so a crash never leaves a half-migrated template behind.
  await session.unsafe(`alter database ${building} rename to ${name}`);
}

async function clonePostgres() {
  const adminUrl = process.env.TEST_DATABASE_URL!;
  templateReady ??= ensureTemplate(adminUrl);
  const template = await templateReady;
  const name = `toolbelt_t_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name} template ${template}`);
  const url = urlFor(adminUrl, name);
  const database = await openDatabase({ url, maxConnections: 5 });
  return {
    database,
    url,
    async close() {
      await database.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
