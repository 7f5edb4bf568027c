/**
 * TOOLBELT_ADMIN_TOKEN: changing the setting revokes the value it replaced; a revoked value
 * set again stays revoked (and says so).
 */
import { findApiTokenByHash, hashApiToken } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { sql } from 'drizzle-orm';
import { beforeAll, expect, it } from 'vitest';
import { ensureAdminToken } from '../../src/api/admin-token.ts';
import { createLogger } from '../../src/logger.ts';
import { Writable } from 'node:stream';

describeEachDatabase('TOOLBELT_ADMIN_TOKEN', (t) => {
  const lines: string[] = [];
  const logger = createLogger({ logLevel: 'info', logFormat: 'json' }, new Writable({ write: (c: Buffer, _e, done) => (lines.push(c.toString()), done()) }));
  const live = async (token: string) => (await findApiTokenByHash(t.db, hashApiToken(token))) !== undefined;
  beforeAll(async () => {
    await t.db.execute(sql`delete from api_tokens`);
  });

  it('revokes the old value when the setting changes', async () => {
    const first = `tb_first_${'x'.repeat(32)}`;
    const second = `tb_second_${'y'.repeat(32)}`;
    await ensureAdminToken({ db: t.db, logger, adminToken: first });
    expect(await live(first)).toBe(true);
    await ensureAdminToken({ db: t.db, logger, adminToken: first });
    expect(await live(first), 'a restart with the same value keeps it').toBe(true);
    await ensureAdminToken({ db: t.db, logger, adminToken: second });
    expect(await live(second)).toBe(true);
    expect(await live(first), 'the replaced value is revoked').toBe(false);
    expect(lines.join('')).toMatch(/the value it replaced is revoked/);
    await ensureAdminToken({ db: t.db, logger, adminToken: first });
    expect(await live(first), 'a revoked value stays revoked').toBe(false);
    expect(lines.join('')).toMatch(/was revoked and stays revoked/);
    expect(lines.join('')).not.toContain(first);
    expect(lines.join('')).not.toContain(second);
  });
});
