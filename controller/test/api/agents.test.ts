import { listAgents, listEnvironments } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { resetSpecTables, startTestApi, type TestApi } from '../support/api.ts';

describeEachDatabase('API: agents and environments', (t) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi(t);
  });
  afterAll(() => api.stop());
  beforeEach(async () => {
    await resetSpecTables(t.db);
    await api.clearChanges();
  });

  it('creates, gets (by id and name), lists, renames and deletes an agent', async () => {
    const created = await api.call('POST', '/v1/agents', { body: { name: 'alpha', description: 'first' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'alpha', description: 'first', tool_environment_active: false, environment: null });
    expect(created.headers.get('etag')).toBe('"1"');
    const id = created.body.id as string;

    expect((await api.call('GET', `/v1/agents/${id}`)).body.name).toBe('alpha');
    expect((await api.call('GET', '/v1/agents/alpha')).body.id).toBe(id);
    const list = await api.call('GET', '/v1/agents');
    expect(list.body.items.map((a: { name: string }) => a.name)).toEqual(['alpha']);

    const renamed = await api.call('PATCH', '/v1/agents/alpha', { body: { name: 'alpha2' }, headers: { 'if-match': '"1"' } });
    expect(renamed.status).toBe(200);
    expect(renamed.body.generation).toBe(2);
    expect(renamed.headers.get('etag')).toBe('"2"');

    const deleted = await api.call('DELETE', '/v1/agents/alpha2');
    expect(deleted.status).toBe(204);
    expect(await listAgents(t.db, { limit: 10 })).toEqual([]);
    expect((await api.announced()).filter((c) => c.kind === 'environment' && c.key === id).length).toBeGreaterThan(0);
  });

  it('pages through agents with limit and after', async () => {
    for (const name of ['a1', 'a2', 'a3', 'a4', 'a5']) expect((await api.call('POST', '/v1/agents', { body: { name } })).status).toBe(201);
    const first = await api.call('GET', '/v1/agents?limit=2');
    expect(first.body.items.map((a: { name: string }) => a.name)).toEqual(['a1', 'a2']);
    expect(first.body.next).toBe('a2');
    const second = await api.call('GET', `/v1/agents?limit=2&after=${first.body.next}`);
    expect(second.body.items.map((a: { name: string }) => a.name)).toEqual(['a3', 'a4']);
    const last = await api.call('GET', `/v1/agents?limit=2&after=${second.body.next}`);
    expect(last.body.items.map((a: { name: string }) => a.name)).toEqual(['a5']);
    expect(last.body.next).toBeNull();
    const bad = await api.call('GET', '/v1/agents?limit=0&colour=red');
    expect(bad.status).toBe(400);
    expect(bad.body.error.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'query.limit' }),
        expect.objectContaining({ path: 'query.colour', message: expect.stringMatching(/unknown field/) }),
      ]),
    );
  });

  it('answers bad agent input with a 400 naming each field, and writes nothing', async () => {
    const answer = await api.call('POST', '/v1/agents', {
      body: { name: 'has space', descripton: 'typo', environment: { active: 'yes', region: 'NYC 3' } },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('INVALID');
    const paths = answer.body.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['name', 'descripton', 'environment.active', 'environment.region']));
    for (const detail of answer.body.error.details) expect(detail.message.length).toBeGreaterThan(5);
    expect(await listAgents(t.db, { limit: 10 })).toEqual([]);

    const notJson = await api.call('POST', '/v1/agents', { rawBody: '{"name": ', headers: { 'content-type': 'application/json' } });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.message).toMatch(/not valid JSON/);
    const noBody = await api.call('POST', '/v1/agents');
    expect(noBody.status).toBe(400);
    expect(noBody.body.error.details[0].message).toMatch(/body is required/);
    const wrongType = await api.call('POST', '/v1/agents', { rawBody: 'name=x', headers: { 'content-type': 'text/plain' } });
    expect(wrongType.status).toBe(415);
    expect(await listAgents(t.db, { limit: 10 })).toEqual([]);
  });

  it('refuses a taken name with 409 and a uuid-shaped name with 400', async () => {
    await api.call('POST', '/v1/agents', { body: { name: 'twin' } });
    const again = await api.call('POST', '/v1/agents', { body: { name: 'twin' } });
    expect(again.status).toBe(409);
    expect(again.body.error.details).toEqual([{ path: 'name', message: 'is taken' }]);
    const uuidName = await api.call('POST', '/v1/agents', { body: { name: '0b2f6b7e-8a9f-4c3e-9d1a-2b3c4d5e6f70' } });
    expect(uuidName.status).toBe(400);
    expect(await listAgents(t.db, { limit: 10 })).toHaveLength(1);
  });

  it('refuses a stale If-Match with 409, so two editors never overwrite each other', async () => {
    await api.call('POST', '/v1/agents', { body: { name: 'shared' } });
    const editorA = await api.call('GET', '/v1/agents/shared');
    const editorB = await api.call('GET', '/v1/agents/shared');
    const etag = editorA.headers.get('etag')!;
    expect(etag).toBe(editorB.headers.get('etag'));
    const a = await api.call('PATCH', '/v1/agents/shared', { body: { description: 'by A' }, headers: { 'if-match': etag } });
    expect(a.status).toBe(200);
    const b = await api.call('PATCH', '/v1/agents/shared', { body: { description: 'by B' }, headers: { 'if-match': etag } });
    expect(b.status).toBe(409);
    expect(b.body.error.code).toBe('STALE');
    expect(b.body.error.hint).toMatch(/GET it again/);
    expect((await api.call('GET', '/v1/agents/shared')).body.description).toBe('by A');
    const staleDelete = await api.call('DELETE', '/v1/agents/shared', { headers: { 'if-match': etag } });
    expect(staleDelete.status).toBe(409);
    expect(await listAgents(t.db, { limit: 10 })).toHaveLength(1);
    const badEtag = await api.call('PATCH', '/v1/agents/shared', { body: { description: 'x' }, headers: { 'if-match': '"abc"' } });
    expect(badEtag.status).toBe(400);
    expect(badEtag.body.error.details[0].path).toBe('headers.if-match');
  });

  it('switches the environment on: creates the row with defaults and sets the flag in one write', async () => {
    const agent = (await api.call('POST', '/v1/agents', { body: { name: 'env-agent' } })).body;
    await api.clearChanges();
    const on = await api.call('PUT', '/v1/agents/env-agent/environment', { body: { active: true } });
    expect(on.status).toBe(200);
    expect(on.body).toMatchObject({ active: true, region: 'nyc3', size: 's-1vcpu-1gb', status: 'pending', agent_id: agent.id });
    const [env] = await listEnvironments(t.db, { limit: 10 });
    expect(await api.announced()).toEqual([
      { kind: 'environment', key: agent.id },
      { kind: 'tools', key: env!.id },
    ]);
    expect(env).toMatchObject({ region: 'nyc3', size: 's-1vcpu-1gb' });
    expect((await api.call('GET', '/v1/agents/env-agent')).body.tool_environment_active).toBe(true);

    // Same again: nothing changes, nobody is told.
    await api.clearChanges();
    const same = await api.call('PUT', '/v1/agents/env-agent/environment', { body: { active: true } });
    expect(same.headers.get('etag')).toBe(on.headers.get('etag'));
    expect(await api.announced()).toEqual([]);

    const moved = await api.call('PUT', '/v1/agents/env-agent/environment', {
      body: { active: false, region: 'sfo3', size: 's-2vcpu-2gb' },
      headers: { 'if-match': on.headers.get('etag')! },
    });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ active: false, region: 'sfo3', size: 's-2vcpu-2gb', generation: 2 });
    const stale = await api.call('PUT', '/v1/agents/env-agent/environment', {
      body: { active: true },
      headers: { 'if-match': on.headers.get('etag')! },
    });
    expect(stale.status).toBe(409);
    expect((await api.call('GET', '/v1/agents/env-agent/environment')).body.active).toBe(false);

    const listed = await api.call('GET', '/v1/environments');
    expect(listed.body.items).toEqual([expect.objectContaining({ agent_name: 'env-agent', region: 'sfo3' })]);
  });

  it('refuses a bad environment and changes nothing', async () => {
    await api.call('POST', '/v1/agents', { body: { name: 'strict' } });
    const answer = await api.call('PUT', '/v1/agents/strict/environment', { body: { active: true, size: 'HUGE!' } });
    expect(answer.status).toBe(400);
    expect(answer.body.error.details).toEqual([expect.objectContaining({ path: 'size' })]);
    expect(await listEnvironments(t.db, { limit: 10 })).toEqual([]);
    expect((await api.call('GET', '/v1/agents/strict')).body.tool_environment_active).toBe(false);
    expect((await api.call('PUT', '/v1/agents/nobody/environment', { body: { active: true } })).status).toBe(404);
  });

  it('marks an agent with an environment for deletion (202) and refuses further spec writes', async () => {
    await api.call('POST', '/v1/agents', { body: { name: 'doomed', environment: { active: true, region: 'ams3' } } });
    const answer = await api.call('DELETE', '/v1/agents/doomed');
    expect(answer.status).toBe(202);
    expect(answer.body.deletion_requested_at).not.toBeNull();
    const toggle = await api.call('PUT', '/v1/agents/doomed/environment', { body: { active: true } });
    expect(toggle.status).toBe(409);
    expect(toggle.body.error.message).toMatch(/being deleted/);
  });

  it('answers unknown routes and methods with the error body', async () => {
    expect((await api.call('GET', '/v1/nothing')).body.error.code).toBe('NOT_FOUND');
    expect((await api.call('POST', '/v1/environments')).status).toBe(405);
    expect((await api.call('GET', '/v1/agents/ghost')).body.error).toMatchObject({ code: 'NOT_FOUND', hint: expect.any(String) });
  });
});
