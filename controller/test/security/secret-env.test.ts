/**
 * Secret bindings and catalog templates may not reach the droplet's loaders, interpreters or
 * the agent's own variables: `secret_refs` binds only the variables the catalog entry
 * declares (x-toolbelt-secrets, x-toolbelt-optional-secrets) and never a reserved one, on
 * every write path (add, update, apply); a catalog template naming a reserved variable is
 * refused. Each refusal is a 400 naming the field, and nothing is written.
 */
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { isReservedEnvName } from '@toolbelt/schema/protocol';
import { rowsOf } from '@toolbelt/schema';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { echoCatalogTool, resetSpecTables, startTestApi, type TestApi } from '../support/api.ts';

const DANGEROUS = ['NODE_OPTIONS', 'LD_PRELOAD', 'PATH', 'HOME', 'HOST', 'PORT', 'TOOLBELT_AGENT_URL', 'BASH_ENV', 'PYTHONPATH', 'ld_preload', 'NPM_CONFIG_SCRIPT_SHELL'];

describeEachDatabase('secret bindings and reserved variables', (t) => {
  let api: TestApi;
  let operator: string;
  beforeAll(async () => {
    api = await startTestApi(t);
    operator = await api.token('operator');
  });
  afterAll(() => api.stop());
  beforeEach(async () => {
    await resetSpecTables(t.db);
    const template = { ...echoCatalogTool.default_config_template, 'x-toolbelt-optional-secrets': ['EXTRA_KEY'] };
    expect((await api.call('POST', '/v1/catalog', { body: { ...echoCatalogTool, default_config_template: template } })).status).toBe(201);
    expect((await api.call('POST', '/v1/agents', { body: { name: 'victim' } })).status).toBe(201);
  });
  const tools = async () => rowsOf<{ secret_refs: unknown }>(await t.db.execute(sql`select secret_refs from agent_droplet_tools`));

  it('knows the dangerous names', () => {
    for (const name of DANGEROUS) expect(isReservedEnvName(name), name).toBe(true);
    for (const name of ['OPENAI_API_KEY', 'ECHO_SECRET', 'NODE_ENV', 'GITHUB_TOKEN']) expect(isReservedEnvName(name), name).toBe(false);
  });

  it('refuses a binding to a reserved or undeclared variable on add, update and apply, naming the field', async () => {
    for (const name of [...DANGEROUS, 'UNDECLARED']) {
      const added = await api.call('POST', '/v1/agents/victim/tools', { token: operator, body: { tool_name: 'echo', secret_refs: { OPENAI_API_KEY: 'k', [name]: 'k' } } });
      expect(added.status, name).toBe(400);
      expect(added.body.error.details, name).toEqual(expect.arrayContaining([expect.objectContaining({ path: `secret_refs.${name}` })]));
    }
    expect(await tools()).toEqual([]);
    const ok = await api.call('POST', '/v1/agents/victim/tools', { token: operator, body: { tool_name: 'echo', secret_refs: { OPENAI_API_KEY: 'k', EXTRA_KEY: 'e' } } });
    expect(ok.status).toBe(201);
    const patched = await api.call('PATCH', `/v1/agents/victim/tools/${ok.body.id}`, { token: operator, body: { secret_refs: { OPENAI_API_KEY: 'k', NODE_OPTIONS: 'k' } } });
    expect(patched.status).toBe(400);
    expect(patched.body.error.details[0]).toMatchObject({ path: 'secret_refs.NODE_OPTIONS', message: expect.stringMatching(/reserved/) });
    const document = { kind: 'Toolbelt', metadata: { name: 'victim' }, spec: { tools: [{ tool_name: 'echo', secret_refs: { OPENAI_API_KEY: 'k', LD_PRELOAD: 'k' } }] } };
    const applied = await api.call('POST', '/v1/apply', { token: operator, body: { documents: [document] } });
    expect(applied.status).toBe(400);
    expect(JSON.stringify(applied.body.error.details)).toContain('secret_refs.LD_PRELOAD');
    expect(await tools()).toEqual([{ secret_refs: { OPENAI_API_KEY: 'k', EXTRA_KEY: 'e' } }]);
  });

  it('refuses a catalog template that names a reserved variable anywhere', async () => {
    const templates = [
      { 'x-toolbelt-secrets': ['NODE_OPTIONS'] },
      { 'x-toolbelt-optional-secrets': ['LD_PRELOAD'] },
      { 'x-toolbelt-optional-secrets': ['not a name'] },
      { properties: { opts: { type: 'string', 'x-toolbelt-env': 'NODE_OPTIONS' } } },
      { 'x-toolbelt-launch': { env: { PATH: '/tmp' } } },
    ];
    for (const [i, extra] of templates.entries()) {
      const answer = await api.call('POST', '/v1/catalog', { body: { ...echoCatalogTool, tool_name: `bad-${i}`, default_config_template: { type: 'object', ...extra } } });
      expect(answer.status, JSON.stringify(extra)).toBe(400);
      expect(answer.body.error.details[0].path).toBe('default_config_template');
    }
    expect(rowsOf<{ n: number }>(await t.db.execute(sql`select count(*)::int as n from tool_catalog`))[0]!.n).toBe(1);
  });
});
