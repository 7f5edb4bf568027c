/**
 * The database factory: postgres.js against a Postgres server when a URL is given, embedded
 * PGlite in a data directory otherwise. The same drizzle schema, migrations and queries run
 * on both.
 *
 * Everything toolbelt creates or reads lives in one Postgres schema (default `toolbelt`,
 * `TOOLBELT_DB_SCHEMA`), so it can share a database with another application (Agentopia's
 * Supabase database has its own `public.agents`). The tables are declared without a schema;
 * every connection's `search_path` is that schema alone, so unqualified names resolve there
 * and nowhere else (`pg_catalog` is always searched first: built-ins such as
 * `gen_random_uuid()` keep working). Other schemas are only ever named explicitly (`vault.`).
 */
import { PGlite } from '@electric-sql/pglite';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { ToolbeltError } from './errors.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { ensurePrivateDataDir, tightenBelow } from './data-dir-mode.ts';
import * as tables from './tables.ts';

export type Schema = typeof tables;

/** A drizzle database or a transaction of one: what every query function takes. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type DbOrTx = Db;

export type DatabaseKind = 'postgres' | 'pglite';

/** The schema toolbelt lives in unless `TOOLBELT_DB_SCHEMA` says otherwise. */
export const DEFAULT_DB_SCHEMA = 'toolbelt';
/**
 * A schema name toolbelt accepts: a plain lower-case identifier, so it never needs quoting in
 * `search_path` or SQL, and not one of Postgres's own (`pg_*`, `information_schema`).
 */
export const DB_SCHEMA_NAME = /^(?!pg_)(?!information_schema$)[a-z_][a-z0-9_]{0,62}$/;

/** Refuses a schema name that is not a plain identifier (see DB_SCHEMA_NAME). */
export function checkDbSchemaName(name: string): string {
  if (!DB_SCHEMA_NAME.test(name)) {
    throw new ToolbeltError('DB_SCHEMA_INVALID', `database schema name ${JSON.stringify(name)} is not allowed`, {
      hint: 'use 1–63 lower-case letters, digits and "_", starting with a letter or "_", not pg_… or information_schema',
    });
  }
  return name;
}

/** An open database with the means to close it and to use Postgres notifications. */
export interface Database {
  readonly db: Db;
  readonly kind: DatabaseKind;
  /** The Postgres schema every table lives in (the connection's whole `search_path`). */
  readonly schema: string;
  /** Where it is, safe to log: `postgres://host:port/name` (no credentials) or a data dir. */
  readonly location: string;
  /** Calls `onPayload` for each NOTIFY on `channel`; resolves to an unlisten function. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** A postgres:// URL; when absent, embedded PGlite in `dataDir`. */
  url?: string | undefined;
  /** PGlite's data directory; `memory://` keeps it in memory. */
  dataDir?: string | undefined;
  /** Pool size for postgres.js (default 10). */
  maxConnections?: number;
  /** Seconds to wait for a connection (default 10). */
  connectTimeoutSeconds?: number;
  /** The schema toolbelt's tables live in (default `toolbelt`); created by `migrate`. */
  schema?: string | undefined;
}

/** Opens the database named by the options and checks that it answers. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  const schema = checkDbSchemaName(options.schema ?? DEFAULT_DB_SCHEMA);
  if (options.url) return openPostgres(options.url, schema, options);
  return openPglite(options.dataDir ?? './.toolbelt/data', schema);
}

/** Parses a Postgres URL, refusing anything else with advice on the expected form. */
export function parseDatabaseUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new ToolbeltError('DB_URL_INVALID', 'DATABASE_URL is not a URL', {
      hint: 'expected postgres://USER:PASSWORD@HOST:5432/DBNAME',
      cause,
    });
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ToolbeltError('DB_URL_INVALID', `DATABASE_URL has scheme "${parsed.protocol}", not postgres:`, {
      hint: 'expected postgres://USER:PASSWORD@HOST:5432/DBNAME, or leave DATABASE_URL unset for embedded PGlite',
    });
  }
  if (!parsed.hostname) {
    throw new ToolbeltError('DB_URL_INVALID', 'DATABASE_URL names no host', {
      hint: 'expected postgres://USER:PASSWORD@HOST:5432/DBNAME',
    });
  }
  return parsed;
}

/** The URL without user or password, for logs and messages. */
export function redactDatabaseUrl(url: URL): string {
  return `${url.protocol}//${url.hostname}:${url.port || '5432'}${url.pathname}`;
}

async function openPostgres(url: string, schema: string, options: OpenDatabaseOptions): Promise<Database> {
  const parsed = parseDatabaseUrl(url);
  const location = redactDatabaseUrl(parsed);
  const sql = postgres(url, {
    max: options.maxConnections ?? 10,
    connect_timeout: options.connectTimeoutSeconds ?? 10,
    onnotice: () => {},
    // A startup parameter, so it holds on every pooled connection and on LISTEN's own.
    // WARNING: a transaction-mode pooler (PgBouncer, Supavisor :6543) may drop it; there,
    // set it on the role instead (docs/deploy.md, "Its own schema").
    connection: { application_name: 'toolbelt', search_path: schema },
  });
  try {
    await sql`select 1`;
  } catch (cause) {
    await sql.end({ timeout: 1 }).catch(() => {});
    throw connectError(location, cause);
  }
  const db = drizzlePostgres(sql, { schema: tables }) as unknown as Db;
  return {
    db,
    kind: 'postgres',
    schema,
    location,
    async listen(channel, onPayload) {
      const { unlisten } = await sql.listen(channel, onPayload);
      return unlisten;
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

function connectError(location: string, cause: unknown): ToolbeltError {
  const code = (cause as { code?: string }).code;
  const detail = cause instanceof Error ? cause.message : String(cause);
  const hints: Record<string, string> = {
    ECONNREFUSED: 'is the server running and listening there? check DATABASE_URL',
    ENOTFOUND: 'the host name does not resolve; check DATABASE_URL',
    CONNECT_TIMEOUT: 'the server did not answer in time; check the host, the port and any firewall',
    '28P01': 'the password was refused; check the credentials in DATABASE_URL',
    '28000': 'the server refused this user; check the user in DATABASE_URL and pg_hba.conf',
    '3D000': 'that database does not exist; create it (createdb) or fix the name in DATABASE_URL',
  };
  return new ToolbeltError('DB_UNREACHABLE', `cannot connect to Postgres at ${location}: ${detail}`, {
    hint: (code && hints[code]) ?? 'check DATABASE_URL and that the server is up',
    cause,
  });
}

async function openPglite(dataDir: string, schema: string): Promise<Database> {
  const inMemory = dataDir.startsWith('memory://');
  let release = async () => {};
  if (!inMemory) {
    ensurePrivateDataDir(dataDir);
    release = lockDataDir(dataDir);
  }
  let client: PGlite;
  try {
    client = await PGlite.create(inMemory ? undefined : dataDir);
    if (!inMemory) tightenBelow(dataDir);
    // PGlite is one session: set once, it holds for every query.
    await client.exec(`set search_path to ${schema}`);
  } catch (cause) {
    await release();
    throw new ToolbeltError('DB_PGLITE_OPEN', `cannot open the embedded database in ${dataDir}`, {
      hint: 'the directory may be damaged or from another PGlite version; move it away to start afresh',
      cause,
    });
  }
  return {
    db: drizzlePglite(client, { schema: tables }) as unknown as Db,
    kind: 'pglite',
    schema,
    location: inMemory ? 'memory://' : dataDir,
    async listen(channel, onPayload) {
      return client.listen(channel, onPayload);
    },
    async close() {
      await client.close();
      await release();
    },
  };
}
