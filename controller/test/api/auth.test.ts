import { listApiTokens, rowsOf } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { echoCatalogTool, localSecretStore, resetSpecTables, startTestApi, type TestApi } from '../support/api.ts';

/** Every spec row, to compare before and after a refused write. */
async function snapshot(db: TestApi['controller']['database']['db']): Promise<string> {
  const tables = ['agents', 'agent_droplets', 'agent_droplet_tools', 'tool_catalog', 'secrets'];
  const parts = await Promise.all(tables.map(async (t) => rowsOf(await db.execute(sql.raw(`select * from ${t} order by 1`)))));
  return JSON.stringify(parts);
}

const BODIES: Record<string, unknown> = {
  'POST /v1/agents': { name: 'intruder' },
  'PATCH /v1/agents/:id': { description: 'changed' },
  'PUT /v1/agents/:id/environment': { active: true },
  'POST /v1/catalog': { ...echoCatalogTool, tool_name: 'other' },
  'PATCH /v1/catalog/:id': { description: 'changed' },
  'POST /v1/agents/:id/tools': { tool_name: 'echo', instance_name: 'x', secret_refs: { OPENAI_API_KEY: 'k' } },
  'PATCH /v1/agents/:id/tools/:tool': { desired_state: 'stopped' },
  'PUT /v1/agents/:id/secrets/:name': { value: 'v' },
  'POST /v1/tokens': { name: 'x', role: 'admin' },
  'POST /v1/apply': { documents: [{ kind: 'Agent', metadata: { name: 'applied' }, spec: {} }] },
};

describeEachDatabase('API: authentication, roles and logs', (t) => {
  let api: TestApi;
  let viewer: string;
  let operator: string;
  let toolId: string;
  beforeAll(async () => {
    api = await startTestApi(t, { secrets: localSecretStore(t.db) });
    await resetSpecTables(t.db);
    viewer = await api.token('viewer', 'the-viewer');
    operator = await api.token('operator');
    await api.call('POST', '/v1/catalog', { body: echoCatalogTool });
    await api.call('POST', '/v1/agents', { body: { name: 'owned', environment: { active: true } } });
    toolId = (await api.call('POST', '/v1/agents/owned/tools', { body: { tool_name: 'echo', secret_refs: { OPENAI_API_KEY: 'k' } } })).body.id;
  });
  afterAll(() => api.stop());
  const pathFor = (pattern: string) =>
    pattern
      .replace(/^\/v1\/catalog\/:id/, '/v1/catalog/echo')
      .replace(/^\/v1\/tokens\/:id/, `/v1/tokens/${toolId}`)
      .replace(':id', 'owned')
      .replace(':tool', toolId)
      .replace(':name', 'k');

  it('says why a request is not authenticated', async () => {
    const none = await api.call('GET', '/v1/agents', { token: null });
    expect(none.status).toBe(401);
    expect(none.body.error.message).toBe('no Authorization header');
    expect(none.headers.get('www-authenticate')).toMatch(/Bearer/);
    const malformed = await api.call('GET', '/v1/agents', { token: null, headers: { authorization: 'Basic abc' } });
    expect(malformed.body.error.message).toMatch(/not of the form "Bearer <token>"/);
    const wrong = await api.call('GET', '/v1/agents', { token: 'tb_not-a-real-token' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.message).toMatch(/not known or was revoked/);
    expect((await api.call('GET', '/healthz', { token: null })).status).toBe(200);
    expect((await api.call('GET', '/v1/openapi.json', { token: null })).status).toBe(200);
    expect((await api.call('GET', '/v1/whoami', { token: viewer })).body).toEqual({ name: 'the-viewer', role: 'viewer' });
  });

  it('lets a viewer read everything and write nothing (every write route, checked in the database)', async () => {
    const writes = api.controller.api.registry.routes.filter((r) => r.access === 'operator' || r.access === 'admin');
    expect(writes.length).toBeGreaterThanOrEqual(12);
    const before = await snapshot(t.db);
    for (const route of writes) {
      const answer = await api.call(route.method, pathFor(route.path), {
        token: viewer,
        body: BODIES[`${route.method} ${route.path}`],
      });
      expect(answer.status, `${route.method} ${route.path}`).toBe(route.access === 'public' ? 200 : 403);
      expect(answer.body.error.code).toBe('FORBIDDEN');
      expect(answer.body.error.message).toMatch(/has role viewer/);
    }
    expect(await snapshot(t.db)).toBe(before);
    const reads = api.controller.api.registry.routes.filter((r) => r.access === 'viewer' && r.method === 'GET' && !r.path.includes('stream'));
    for (const route of reads) {
      const path = pathFor(route.path);
      expect((await api.call('GET', path, { token: viewer })).status, path).toBe(200);
    }
  });

  it('revokes a token', async () => {
    const token = await api.token('operator', 'short-lived');
    const row = (await listApiTokens(t.db)).find((r) => r.name === 'short-lived')!;
    expect((await api.call('DELETE', `/v1/tokens/${row.id}`)).body.revoked_at).not.toBeNull();
    const after = await api.call('GET', '/v1/agents', { token });
    expect(after.status).toBe(401);
    const listed = await api.call('GET', '/v1/tokens');
    expect(JSON.stringify(listed.body)).not.toContain(token);
    expect(JSON.stringify(listed.body)).not.toMatch(/hash/);
  });

  it('takes secret values in and never gives them out', async () => {
    const value = 'sk-live-5f1b0c9e7d2a4c6b8e0f';
    const put = await api.call('PUT', '/v1/agents/owned/secrets/openai', { token: operator, body: { value } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ name: 'openai', version: 1, backend: 'local' });
    expect(JSON.stringify(put.body)).not.toContain(value);
    const stored = rowsOf<{ ciphertext: unknown }>(await t.db.execute(sql`select ciphertext from secrets where name = 'openai'`));
    expect(stored).toHaveLength(1);
    expect(Buffer.from(stored[0]!.ciphertext as Uint8Array).toString('latin1')).not.toContain(value);
    const list = await api.call('GET', '/v1/agents/owned/secrets', { token: viewer });
    expect(list.body.items.map((s: { name: string }) => s.name)).toEqual(['openai']);
    expect(JSON.stringify(list.body)).not.toContain(value);
    const badName = await api.call('PUT', '/v1/agents/owned/secrets/bad%20name', { body: { value } });
    expect(badName.status).toBe(400);
    expect(JSON.stringify(badName.body)).not.toContain(value);
    const badValue = await api.call('PUT', '/v1/agents/owned/secrets/x', { body: { value: 42 } });
    expect(badValue.status).toBe(400);
    expect((await api.call('DELETE', '/v1/agents/owned/secrets/openai')).status).toBe(204);
    expect((await api.call('DELETE', '/v1/agents/owned/secrets/openai')).status).toBe(404);
  });

  it('writes no token and no secret value into any log line', async () => {
    // Make sure failing requests were logged too.
    await api.call('GET', '/v1/agents', { token: 'tb_wrong-token-value-1234567890' });
    expect(api.logs.length).toBeGreaterThan(20);
    const all = api.logs.join('\n');
    for (const token of [api.adminToken, viewer, operator, 'tb_wrong-token-value-1234567890', 'sk-live-5f1b0c9e7d2a4c6b8e0f']) {
      expect(all).not.toContain(token);
    }
    expect(all).toMatch(/"msg":"request"/);
  });

  it('answers secrets with 501 when no store is configured', async () => {
    const bare = await startTestApi(t);
    try {
      const answer = await bare.call('PUT', '/v1/agents/owned/secrets/x', { body: { value: 'v' } });
      expect(answer.status).toBe(501);
      expect(answer.body.error.code).toBe('SECRETS_UNAVAILABLE');
    } finally {
      await bare.stop();
    }
  });

  it('withholds the details of a failing store, which may quote the value', async () => {
    const real = localSecretStore(t.db);
    const failing = {
      ...real,
      async put(_agentId: string, _name: string, value: string): Promise<never> {
        throw new Error(`Failed query: insert into secrets … params: ${value}`);
      },
    };
    const bare = await startTestApi(t, { secrets: failing });
    try {
      const value = 'sk-quoted-by-the-driver-42';
      const answer = await bare.call('PUT', '/v1/agents/owned/secrets/leaky', { body: { value } });
      expect(answer.status).toBe(500);
      expect(answer.body.error.code).toBe('SECRET_STORE_FAILED');
      expect(JSON.stringify(answer.body)).not.toContain(value);
      expect(bare.logs.join('\n')).toMatch(/the secret store failed to store a value/);
      expect(bare.logs.join('\n')).not.toContain(value);
    } finally {
      await bare.stop();
    }
  });
});
