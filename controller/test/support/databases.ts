/**
 * Databases beyond a test file's own (`describeEachDatabase` gives each file one): extra
 * pools — a second replica's, another writer's — that a test must close, and the one way a
 * case says it runs on Postgres only.
 */
import { type Database, type OpenDatabaseOptions, openDatabase } from '@toolbelt/schema';
import type { TestDatabase } from '@toolbelt/schema/testing';
import { it } from 'vitest';
import { track } from './leaks.ts';

/** Opens another pool; one a test leaves open fails it (leaks.ts). */
export async function openPool(options: OpenDatabaseOptions): Promise<Database> {
  const database = await openDatabase(options);
  const forget = track('a database pool', () => database.close());
  return {
    db: database.db,
    kind: database.kind,
    schema: database.schema,
    location: database.location,
    listen: (channel, onPayload) => database.listen(channel, onPayload),
    async close() {
      forget();
      await database.close();
    },
  };
}

/** A test declaration: a name, the test, and optionally its timeout (ms). */
export type TestFn = (name: string, fn: () => Promise<void>, timeoutMs?: number) => void;

/**
 * `it` on Postgres; on PGlite the same test skipped, with `reason` in its name. The one way
 * the controller's tests declare a case PGlite cannot run — it is one session in one
 * process: no second replica's pool, no child process on the test's database.
 */
export function onPostgres(t: TestDatabase, reason: string): TestFn {
  if (t.kind === 'postgres') return (name, fn, timeoutMs) => it(name, fn, timeoutMs);
  return (name, fn, timeoutMs) => it.skip(`${name} (on Postgres only: ${reason})`, fn, timeoutMs);
}
