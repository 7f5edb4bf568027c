import { GATEWAY_LISTS_CHANNEL, getToolInstance, listCatalogTools, listEnvironments, rowsOf, updateToolStatus } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, expect, it, vi } from 'vitest';
import { echoCatalogTool, resetSpecTables, startTestApi, type TestApi } from '../support/api.ts';

describeEachDatabase('API: catalog and toolbelt', (t) => {
  let api: TestApi;
  let operator: string;
  let viewer: string;
  beforeAll(async () => {
    api = await startTestApi(t);
    operator = await api.token('operator');
    viewer = await api.token('viewer');
  });
  afterAll(() => api.stop());
  beforeEach(async () => {
    await resetSpecTables(t.db);
    await api.clearChanges();
  });
  const toolCount = async () => rowsOf<{ n: number }>(await t.db.execute(sql`select count(*)::int as n from agent_droplet_tools`))[0]?.n;

  it('lets any caller read the catalog and only admins change it', async () => {
    const created = await api.call('POST', '/v1/catalog', { body: echoCatalogTool });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ tool_name: 'echo', transport: 'mcp-stdio', ports: [] });
    expect((await api.call('GET', '/v1/catalog', { token: viewer })).body.items).toHaveLength(1);
    expect((await api.call('GET', '/v1/catalog/echo', { token: viewer })).body.id).toBe(created.body.id);
    const byOperator = await api.call('POST', '/v1/catalog', { token: operator, body: { ...echoCatalogTool, tool_name: 'other' } });
    expect(byOperator.status).toBe(403);
    expect(byOperator.body.error.message).toMatch(/role operator; this needs admin/);
    const patched = await api.call('PATCH', '/v1/catalog/echo', { body: { description: 'new' }, headers: { 'if-match': '"1"' } });
    expect(patched.body).toMatchObject({ description: 'new', generation: 2 });
    const stale = await api.call('PATCH', '/v1/catalog/echo', { body: { description: 'newer' }, headers: { 'if-match': '"1"' } });
    expect(stale.status).toBe(409);
    expect((await listCatalogTools(t.db, { limit: 10 })).map((c) => c.description)).toEqual(['new']);
  });

  it('refuses a bad catalog tool with each field named, and writes nothing', async () => {
    const answer = await api.call('POST', '/v1/catalog', {
      body: {
        ...echoCatalogTool,
        version_info: { versions: ['1.0.0'], default: '2.0.0' },
        packaging_type: 'tarball',
        ports: [70000],
        default_config_template: { type: 'object', properties: { a: { type: 'no-such-type' } } },
      },
    });
    expect(answer.status).toBe(400);
    const paths = answer.body.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['version_info.default', 'packaging_type', 'ports[0]']));
    const template = await api.call('POST', '/v1/catalog', {
      body: { ...echoCatalogTool, default_config_template: { type: 'object', properties: { a: { type: 'no-such-type' } } } },
    });
    expect(template.status).toBe(400);
    expect(template.body.error.details[0]).toMatchObject({ path: 'default_config_template', message: /not a usable JSON Schema/ });
    expect(await listCatalogTools(t.db, { limit: 10 })).toEqual([]);
  });

  it('adds a tool checked against the catalog, with config defaults, creating an inactive environment', async () => {
    await api.call('POST', '/v1/catalog', { body: echoCatalogTool });
    const agent = (await api.call('POST', '/v1/agents', { body: { name: 'toolish' } })).body;
    await api.clearChanges();
    const added = await api.call('POST', '/v1/agents/toolish/tools', {
      token: operator,
      body: { tool_name: 'echo', config_details: { greeting: 'hi' }, secret_refs: { OPENAI_API_KEY: 'openai' } },
    });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({
      instance_name: 'echo',
      tool_name: 'echo',
      version: '1.1.0',
      config_details: { greeting: 'hi', repeat: 1 },
      secret_refs: { OPENAI_API_KEY: 'openai' },
      desired_state: 'running',
      status: 'pending',
    });
    const [env] = await listEnvironments(t.db, { limit: 10 });
    expect(await api.announced()).toEqual(
      expect.arrayContaining([
        { kind: 'tools', key: env!.id },
        { kind: 'environment', key: agent.id },
      ]),
    );
    expect(env).toMatchObject({ region: 'nyc3', size: 's-1vcpu-1gb' });
    expect((await api.call('GET', '/v1/agents/toolish')).body.tool_environment_active).toBe(false);

    const list = await api.call('GET', '/v1/agents/toolish/tools', { token: viewer });
    expect(list.body.items.map((x: { instance_name: string }) => x.instance_name)).toEqual(['echo']);
    const second = await api.call('POST', '/v1/agents/toolish/tools', {
      body: { tool_name: 'echo', instance_name: 'echo-2', version: '1.0.0', secret_refs: { OPENAI_API_KEY: 'openai' } },
    });
    expect(second.status).toBe(201);
    const dup = await api.call('POST', '/v1/agents/toolish/tools', { body: { tool_name: 'echo', secret_refs: { OPENAI_API_KEY: 'x' } } });
    expect(dup.status).toBe(409);
    expect(dup.body.error.hint).toMatch(/instance_name/);
  });

  it('refuses unknown tools, versions, bad config and unbound secrets, each named, and writes nothing', async () => {
    await api.call('POST', '/v1/catalog', { body: echoCatalogTool });
    await api.call('POST', '/v1/agents', { body: { name: 'picky' } });
    const unknown = await api.call('POST', '/v1/agents/picky/tools', { body: { tool_name: 'nope' } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details).toEqual([{ path: 'tool_name', message: expect.stringMatching(/no catalog tool is named "nope"/) }]);
    const bad = await api.call('POST', '/v1/agents/picky/tools', {
      body: { tool_name: 'echo', version: '9.9.9', config_details: { repeat: 99, colour: 'red' } },
    });
    expect(bad.status).toBe(400);
    const byPath = Object.fromEntries(bad.body.error.details.map((d: { path: string; message: string }) => [d.path, d.message]));
    expect(byPath.version).toMatch(/no version "9.9.9"; it offers 1.0.0, 1.1.0/);
    expect(byPath['config_details.repeat']).toMatch(/<= 10/);
    expect(byPath['config_details.colour']).toMatch(/not a setting/);
    expect(byPath['secret_refs.OPENAI_API_KEY']).toMatch(/needs OPENAI_API_KEY bound/);
    expect(await toolCount()).toBe(0);
    expect(await listEnvironments(t.db, { limit: 10 })).toEqual([]);
  });

  it('changes config, version and desired state with optimistic concurrency, and removes a tool', async () => {
    await api.call('POST', '/v1/catalog', { body: echoCatalogTool });
    await api.call('POST', '/v1/agents', { body: { name: 'tuner' } });
    const added = await api.call('POST', '/v1/agents/tuner/tools', { body: { tool_name: 'echo', secret_refs: { OPENAI_API_KEY: 's' } } });
    const etag = added.headers.get('etag')!;
    await api.clearChanges();
    const patched = await api.call('PATCH', '/v1/agents/tuner/tools/echo', {
      body: { version: '1.0.0', config_details: { repeat: 3 }, desired_state: 'stopped' },
      headers: { 'if-match': etag },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ version: '1.0.0', config_details: { greeting: 'hello', repeat: 3 }, desired_state: 'stopped', generation: 2 });
    const [env] = await listEnvironments(t.db, { limit: 10 });
    expect(await api.announced()).toEqual([{ kind: 'tools', key: env!.id }]);
    const stale = await api.call('PATCH', '/v1/agents/tuner/tools/echo', { body: { desired_state: 'running' }, headers: { 'if-match': etag } });
    expect(stale.status).toBe(409);
    const badVersion = await api.call('PATCH', `/v1/agents/tuner/tools/${added.body.id}`, { body: { version: '0.1' } });
    expect(badVersion.status).toBe(400);
    expect((await getToolInstance(t.db, added.body.id))?.version).toBe('1.0.0');

    const removed = await api.call('DELETE', '/v1/agents/tuner/tools/echo');
    expect(removed.status).toBe(202);
    expect(removed.body.deletion_requested_at).not.toBeNull();
    const again = await api.call('PATCH', '/v1/agents/tuner/tools/echo', { body: { desired_state: 'running' } });
    expect(again.status).toBe(409);
    const inUse = await api.call('DELETE', '/v1/catalog/echo');
    expect(inUse.status).toBe(409);
    expect(inUse.body.error.hint).toMatch(/remove those tools first/);
  });

  it("sets, shows and clears the gateway's tool filters, and tells the gateway's clients", async () => {
    await api.call('POST', '/v1/catalog', { body: echoCatalogTool });
    const agent = (await api.call('POST', '/v1/agents', { body: { name: 'filtered' } })).body;
    const added = await api.call('POST', '/v1/agents/filtered/tools', {
      body: { tool_name: 'echo', secret_refs: { OPENAI_API_KEY: 's' }, allowed_tools: ['echo', 'add'], denied_tools: ['add'] },
    });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ allowed_tools: ['echo', 'add'], denied_tools: ['add'] });
    const heard: string[] = [];
    const unlisten = await t.database.listen(GATEWAY_LISTS_CHANNEL, (agentId) => heard.push(agentId));
    try {
      const patched = await api.call('PATCH', '/v1/agents/filtered/tools/echo', { body: { allowed_tools: null }, headers: { 'if-match': added.headers.get('etag')! } });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ allowed_tools: null, denied_tools: ['add'], generation: 2 });
      await vi.waitFor(() => expect(heard).toEqual([agent.id]));
      expect((await api.call('PATCH', '/v1/agents/filtered/tools/echo', { body: { config_details: { repeat: 2 } } })).status).toBe(200);
    } finally {
      await unlisten();
    }
    expect(heard).toEqual([agent.id]);
    const bad = await api.call('PATCH', '/v1/agents/filtered/tools/echo', { body: { denied_tools: [''] } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe('denied_tools[0]');
    expect((await getToolInstance(t.db, added.body.id))).toMatchObject({ allowed_tools: null, denied_tools: ['add'] });
  });

  it('shows the platform only running tools, with endpoints and capabilities', async () => {
    await api.call('POST', '/v1/catalog', { body: echoCatalogTool });
    await api.call('POST', '/v1/agents', { body: { name: 'platform', environment: { active: true } } });
    const running = await api.call('POST', '/v1/agents/platform/tools', { body: { tool_name: 'echo', secret_refs: { OPENAI_API_KEY: 's' } } });
    await api.call('POST', '/v1/agents/platform/tools', {
      body: { tool_name: 'echo', instance_name: 'idle', secret_refs: { OPENAI_API_KEY: 's' } },
    });
    await updateToolStatus(t.db, running.body.id, {
      status: 'running',
      endpoints: [{ host: '10.0.0.5', port: 8000, path: '/mcp', transport: 'mcp-http' }],
      capabilities: { tools: [{ name: 'echo' }] },
    });
    const view = await api.call('GET', '/v1/agents/platform/toolbelt', { token: viewer });
    expect(view.status).toBe(200);
    expect(view.body.environment).toMatchObject({ active: true, status: 'pending' });
    expect(view.body.tools).toEqual([
      expect.objectContaining({ instance_name: 'echo', endpoints: [expect.objectContaining({ port: 8000 })], capabilities: { tools: [{ name: 'echo' }] } }),
    ]);
  });

  it('refuses to drop a catalog version that tools still run, and accepts templates sharing an $id', async () => {
    const withId = { ...echoCatalogTool, default_config_template: { ...echoCatalogTool.default_config_template, $id: 'https://example.test/config' } };
    expect((await api.call('POST', '/v1/catalog', { body: withId })).status).toBe(201);
    expect((await api.call('POST', '/v1/catalog', { body: { ...withId, tool_name: 'echo-twin' } })).status).toBe(201);
    await api.call('POST', '/v1/agents', { body: { name: 'pinned' } });
    const pinned = { version: '1.0.0', secret_refs: { OPENAI_API_KEY: 's' } };
    expect((await api.call('POST', '/v1/agents/pinned/tools', { body: { tool_name: 'echo', ...pinned } })).status).toBe(201);
    expect((await api.call('POST', '/v1/agents/pinned/tools', { body: { tool_name: 'echo-twin', ...pinned } })).status).toBe(201);
    const drop = await api.call('PATCH', '/v1/catalog/echo', { body: { version_info: { versions: ['1.1.0'], default: '1.1.0' } } });
    expect(drop.status).toBe(409);
    expect(drop.body.error.message).toMatch(/cannot drop version\(s\) still installed: 1\.0\.0 \(1 tool\(s\)\)/);
    expect((await api.call('GET', '/v1/catalog/echo')).body.version_info.versions).toEqual(['1.0.0', '1.1.0']);
    // A new generation of the template (same $id) still validates configs.
    const widened = { ...withId.default_config_template, properties: { ...withId.default_config_template.properties, extra: { type: 'string' } } };
    expect((await api.call('PATCH', '/v1/catalog/echo', { body: { default_config_template: widened } })).status).toBe(200);
    const patched = await api.call('PATCH', '/v1/agents/pinned/tools/echo', { body: { config_details: { extra: 'yes' } } });
    expect(patched.status).toBe(200);
    expect(patched.body.config_details).toEqual({ extra: 'yes', greeting: 'hello', repeat: 1 });
  });
});
