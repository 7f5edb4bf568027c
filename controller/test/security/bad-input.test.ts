/**
 * Bad input that once answered 500 (and logged the query's parameters) answers 400 with
 * the reason, writes nothing and logs no error.
 */
import { rowsOf } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { resetSpecTables, startTestApi, type TestApi } from '../support/api.ts';
import { yamlAliasBomb } from './raw-http.ts';

describeEachDatabase('API: input the database cannot store', (t) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi(t);
    await resetSpecTables(t.db);
  });
  afterAll(async () => api?.stop());

  const agents = async () => rowsOf<{ n: number }>(await t.db.execute(sql`select count(*)::int as n from agents`))[0]!.n;
  const errorsLogged = () => api.logs.filter((l) => (JSON.parse(l) as { level: number }).level >= 50);

  it('a NUL byte in a path parameter: 400, nothing logged as an error', async () => {
    const answer = await api.call('GET', '/v1/agents/%00');
    expect(answer.status).toBe(400);
    expect(errorsLogged()).toEqual([]);
  });

  it('a NUL byte in a JSON string: 400 naming the reason, nothing written', async () => {
    const answer = await api.call('POST', '/v1/agents', { body: { name: 'nul', description: 'a\u0000b' } });
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toMatch(/cannot store a value of this request: .*0x00/);
    expect(await agents()).toBe(0);
    expect(errorsLogged()).toEqual([]);
    expect(api.logs.join('\n')).not.toMatch(/params:|a\\u0000b/);
  });

  it('a YAML alias bomb in apply: 400, nothing written', async () => {
    const answer = await api.call('POST', '/v1/apply', { rawBody: yamlAliasBomb(), headers: { 'content-type': 'application/yaml' } });
    expect(answer.status).toBe(400);
    expect(answer.body.error.details[0].message).toMatch(/YAML refused: .*alias/i);
    expect(await agents()).toBe(0);
    expect(errorsLogged()).toEqual([]);
  });
});
