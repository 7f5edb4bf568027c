/**
 * The platform's own ids: an agent carries `external_id` (unique, any 1–128 characters,
 * UUIDs included), set on create, by PATCH and in manifests, shown in every view, and usable
 * wherever an agent is addressed as `ext:<external_id>`.
 */
import { randomUUID } from 'node:crypto';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { resetSpecTables, startTestApi, type TestApi } from '../support/api.ts';

const ext = (id: string) => `/v1/agents/${encodeURIComponent(`ext:${id}`)}`;

describeEachDatabase('API: agents by external_id', (t) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi(t);
  });
  afterAll(() => api.stop());
  beforeEach(async () => {
    await resetSpecTables(t.db);
  });

  it('creates an agent with a UUID external_id and addresses it by ext:<id> everywhere', async () => {
    const platformId = randomUUID();
    const created = await api.call('POST', '/v1/agents', { body: { name: 'helper', external_id: platformId } });
    expect(created.status).toBe(201);
    expect(created.body.external_id).toBe(platformId);

    const got = await api.call('GET', ext(platformId));
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ name: 'helper', external_id: platformId });
    expect((await api.call('GET', '/v1/agents')).body.items[0].external_id).toBe(platformId);
    // A UUID external_id is not mistaken for toolbelt's own id, nor a name for it.
    expect((await api.call('GET', `/v1/agents/${platformId}`)).status).toBe(404);

    const env = await api.call('PUT', `${ext(platformId)}/environment`, { body: { active: false } });
    expect(env.status, JSON.stringify(env.body)).toBeLessThan(300);
    expect((await api.call('GET', `${ext(platformId)}/tools`)).status).toBe(200);

    const patched = await api.call('PATCH', ext(platformId), { body: { description: 'by its platform id' } });
    expect(patched.body).toMatchObject({ description: 'by its platform id', external_id: platformId });
    expect((await api.call('DELETE', ext(platformId))).status).toBeLessThan(300);
  });

  it('refuses a taken or over-long external_id and changes nothing; PATCH sets and clears it', async () => {
    expect((await api.call('POST', '/v1/agents', { body: { name: 'a1', external_id: 'agentopia:7' } })).status).toBe(201);
    const taken = await api.call('POST', '/v1/agents', { body: { name: 'a2', external_id: 'agentopia:7' } });
    expect(taken.status).toBe(409);
    expect(taken.body.error.details[0].path).toBe('external_id');
    const long = await api.call('POST', '/v1/agents', { body: { name: 'a3', external_id: 'x'.repeat(129) } });
    expect(long.status).toBe(400);
    expect((await api.call('POST', '/v1/agents', { body: { name: 'a4', external_id: '' } })).status).toBe(400);
    expect((await api.call('GET', '/v1/agents')).body.items.map((a: { name: string }) => a.name)).toEqual(['a1']);

    expect((await api.call('POST', '/v1/agents', { body: { name: 'a5' } })).body.external_id).toBeNull();
    const clash = await api.call('PATCH', '/v1/agents/a5', { body: { external_id: 'agentopia:7' } });
    expect(clash.status).toBe(409);
    const exactly128 = 'é'.repeat(128);
    expect((await api.call('PATCH', '/v1/agents/a5', { body: { external_id: exactly128 } })).body.external_id).toBe(exactly128);
    expect((await api.call('GET', ext(exactly128))).body.name).toBe('a5');
    expect((await api.call('PATCH', '/v1/agents/a5', { body: { external_id: null } })).body.external_id).toBeNull();
    expect((await api.call('GET', ext(exactly128))).status).toBe(404);
  });

  it('sets external_id from a manifest and reports a change of it', async () => {
    const doc = (externalId: string) => ({ apiVersion: 'toolbelt.dev/v1', kind: 'Agent', metadata: { name: 'm1' }, spec: { external_id: externalId } });
    const first = await api.call('POST', '/v1/apply', { body: { documents: [doc('p-1')] } });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect((await api.call('GET', ext('p-1'))).body.name).toBe('m1');
    const second = await api.call('POST', '/v1/apply', { body: { documents: [doc('p-2')] } });
    expect(second.body.results).toEqual([{ kind: 'Agent', name: 'm1', action: 'configured', changes: ['external_id'] }]);
    expect((await api.call('GET', ext('p-2'))).body.name).toBe('m1');
  });
});
