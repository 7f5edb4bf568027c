/**
 * A failed query's parameters hold what a caller or an agent sent (names, values, hashes):
 * they never reach a log line, whichever key the error is logged under and however deep it
 * sits in a cause chain. The error is a real one, from a real query on PGlite.
 */
import { Writable } from 'node:stream';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';

const PARAMETER = 'parameter-value-7f3a';

describe('logging a failed query', () => {
  let client: PGlite;
  let failure: unknown;
  beforeAll(async () => {
    client = await PGlite.create();
    const db = drizzle(client);
    failure = await db.execute(sql`insert into no_such_table values (${PARAMETER})`).catch((error: unknown) => error);
  }, 60_000);
  afterAll(async () => client?.close());

  it.each([
    ['err', () => failure],
    ['error', () => failure],
    ['err (as a cause)', () => new Error('reconcile failed', { cause: failure })],
  ])('under %s: the SQL and the reason, never the parameters', (key, error) => {
    expect(String((failure as Error).message)).toContain(PARAMETER);
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) });
    createLogger({ logLevel: 'info', logFormat: 'json' }, sink).error({ [key.split(' ')[0]!]: error() }, 'failed');
    const line = lines.join('');
    expect(line).toContain('insert into no_such_table values ($1)');
    expect(line).toContain('does not exist');
    expect(line).not.toContain(PARAMETER.slice(0, 15));
  });
});
