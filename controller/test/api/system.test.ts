import { findApiTokenByHash, hashApiToken } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { sql } from 'drizzle-orm';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureAdminToken } from '../../src/api/admin-token.ts';
import { createLogger } from '../../src/logger.ts';
import { startTestApi, type TestApi } from '../support/api.ts';

function sink(lines: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _e, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
}

describeEachDatabase('API: metrics and the first admin token', (t) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi(t, {
      metrics: { contentType: 'text/plain; version=0.0.4', metrics: () => '# TYPE toolbelt_test_total counter\ntoolbelt_test_total 3\n' },
    });
  });
  afterAll(() => api.stop());

  it('serves the metrics registry it was given, without a token', async () => {
    const answer = await api.call('GET', '/metrics', { token: null });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('text/plain; version=0.0.4');
    expect(answer.body).toMatch(/^toolbelt_test_total 3$/m);
  });

  it('creates one admin token when none exists, prints it once outside the log, and never again', async () => {
    await t.db.execute(sql`update api_tokens set revoked_at = now() where role = 'admin'`);
    const logs: string[] = [];
    const stderr: string[] = [];
    const logger = createLogger({ logLevel: 'trace', logFormat: 'json' }, sink(logs));
    expect(await ensureAdminToken({ db: t.db, logger, stderr: sink(stderr) })).toBe('created');
    const token = /admin API token \(shown once, not logged\): (tb_\S+)/.exec(stderr.join(''))![1]!;
    expect((await findApiTokenByHash(t.db, hashApiToken(token)))?.role).toBe('admin');
    expect(logs.join('')).not.toContain(token);
    expect(logs.join('')).toMatch(/created the first admin token/);
    expect(await ensureAdminToken({ db: t.db, logger, stderr: sink(stderr) })).toBe('exists');
    expect(stderr.join('').match(/tb_/g)).toHaveLength(1);
    expect((await api.call('GET', '/v1/whoami', { token })).body.role).toBe('admin');
  });
});
