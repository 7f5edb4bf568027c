import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { rowsOf } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { resetSpecTables, startTestApi, type TestApi } from '../support/api.ts';

const EXAMPLES = fileURLToPath(new URL('../../../examples/declarative/', import.meta.url));
const exampleYaml = () =>
  readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => readFileSync(`${EXAMPLES}${f}`, 'utf8'))
    .join('\n---\n');
/** The example documents: [0] Agent alpha, [1] Toolbelt alpha, [2] CatalogTool everything, [3] CatalogTool reasoning. */
const exampleDocs = () => parseAllDocuments(exampleYaml()).map((d) => d.toJS());

describeEachDatabase('API: apply', (t) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi(t);
  });
  afterAll(() => api.stop());
  beforeEach(async () => {
    await resetSpecTables(t.db);
    await api.clearChanges();
  });

  /** Every spec column of every spec table, to compare states. */
  async function state(): Promise<string> {
    const queries = [
      sql`select name, description, tool_environment_active, generation, deletion_requested_at from agents order by name`,
      sql`select region, size, image, generation from agent_droplets order by id`,
      sql`select tool_name, version_info, default_config_template, generation from tool_catalog order by tool_name`,
      sql`select instance_name, version, config_details, secret_refs, desired_state, allowed_tools, denied_tools, generation, deletion_requested_at from agent_droplet_tools order by instance_name`,
    ];
    return JSON.stringify(await Promise.all(queries.map(async (q) => rowsOf(await t.db.execute(q)))));
  }

  it('applies the examples, reports what it did, and changes nothing the second time', async () => {
    const empty = await state();
    const dry = await api.call('POST', '/v1/apply?dryRun=true', { rawBody: exampleYaml(), headers: { 'content-type': 'application/yaml' } });
    expect(dry.status).toBe(200);
    expect(dry.body.dryRun).toBe(true);
    expect(dry.body.results).toHaveLength(5);
    expect(await state()).toBe(empty);
    expect(await api.announced()).toEqual([]);

    const first = await api.call('POST', '/v1/apply', { rawBody: exampleYaml(), headers: { 'content-type': 'application/yaml' } });
    expect(first.status).toBe(200);
    expect(first.body.results).toEqual([
      { kind: 'CatalogTool', name: 'everything', action: 'created' },
      { kind: 'CatalogTool', name: 'reasoning', action: 'created' },
      { kind: 'Agent', name: 'alpha', action: 'created' },
      { kind: 'Tool', name: 'alpha/everything', action: 'created' },
      { kind: 'Tool', name: 'alpha/reasoning', action: 'created' },
    ]);
    expect(dry.body.results).toEqual(first.body.results);
    expect((await api.announced()).map((c) => c.kind).sort()).toEqual(['environment', 'tools']);
    const tools = (await api.call('GET', '/v1/agents/alpha/tools')).body.items;
    expect(tools.find((x: { instance_name: string }) => x.instance_name === 'reasoning').config_details).toEqual({ model: 'gpt-4o-mini', max_steps: 12 });
    expect((await api.call('GET', '/v1/agents/alpha')).body.environment).toMatchObject({ active: true, region: 'nyc3' });

    const applied = await state();
    await api.clearChanges();
    const second = await api.call('POST', '/v1/apply', { body: { documents: exampleDocs() } });
    expect(second.body.changed).toBe(false);
    expect(second.body.results.every((r: { action: string }) => r.action === 'unchanged')).toBe(true);
    expect(await state()).toBe(applied);
    expect(await api.announced()).toEqual([]);
  });

  it('round-trips: what the API shows can be applied back without a change', async () => {
    await api.call('POST', '/v1/apply', { body: { documents: exampleDocs() } });
    const agent = (await api.call('GET', '/v1/agents/alpha')).body;
    const tools = (await api.call('GET', '/v1/agents/alpha/tools')).body.items;
    const manifests = [
      {
        kind: 'Agent',
        metadata: { name: agent.name },
        spec: {
          description: agent.description,
          environment: { active: agent.tool_environment_active, region: agent.environment.region, size: agent.environment.size },
        },
      },
      {
        kind: 'Toolbelt',
        metadata: { name: agent.name },
        spec: {
          tools: tools.map((x: Record<string, unknown>) => ({
            tool_name: x.tool_name,
            instance_name: x.instance_name,
            version: x.version,
            config_details: x.config_details,
            secret_refs: x.secret_refs,
            desired_state: x.desired_state,
            allowed_tools: x.allowed_tools,
            denied_tools: x.denied_tools,
          })),
        },
      },
    ];
    const yamlText = manifests.map((m) => stringify(m)).join('---\n');
    const before = await state();
    const again = await api.call('POST', '/v1/apply', { rawBody: yamlText, headers: { 'content-type': 'application/yaml' } });
    expect(again.status).toBe(200);
    expect(again.body.changed).toBe(false);
    expect(await state()).toBe(before);
  });

  it('reports a configured change with the fields that changed', async () => {
    await api.call('POST', '/v1/apply', { body: { documents: exampleDocs() } });
    const docs = exampleDocs();
    docs[0].spec.environment.size = 's-2vcpu-2gb';
    docs[1].spec.tools[1].config_details.max_steps = 20;
    docs[1].spec.tools[0].allowed_tools = ['echo', 'add'];
    delete docs[1].spec.tools[0].denied_tools;
    const answer = await api.call('POST', '/v1/apply', { body: { documents: docs } });
    expect(answer.body.results).toEqual(
      expect.arrayContaining([
        { kind: 'Agent', name: 'alpha', action: 'configured', changes: ['environment.size'] },
        { kind: 'Tool', name: 'alpha/reasoning', action: 'configured', changes: ['config_details'] },
        { kind: 'Tool', name: 'alpha/everything', action: 'configured', changes: ['allowed_tools', 'denied_tools'] },
      ]),
    );
    const everything = (await api.call('GET', '/v1/agents/alpha/tools/everything')).body;
    expect(everything).toMatchObject({ allowed_tools: ['echo', 'add'], denied_tools: null });
  });

  it('refuses a set with one bad document: names document, field and reason, and applies nothing', async () => {
    const docs = exampleDocs();
    docs[0].spec.environment.region = 'Mars';
    docs[1].spec.tools[1].version = '9.9';
    docs[1].spec.tools[0].colour = 'blue';
    const before = await state();
    const answer = await api.call('POST', '/v1/apply', { body: { documents: docs } });
    expect(answer.status).toBe(400);
    const paths = answer.body.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['documents[0].spec.environment.region', 'documents[1].spec.tools[0].colour']));
    expect(answer.body.error.message).toMatch(/^apply refused, nothing was changed: documents\[0\] \(Agent "alpha"\) spec\.environment\.region/);
    expect(await state()).toBe(before);

    // Schema-valid, but wrong against the catalog: found while applying, still nothing applied.
    const semantic = exampleDocs();
    semantic[1].spec.tools[1].version = '9.9';
    delete semantic[1].spec.tools[1].secret_refs;
    const second = await api.call('POST', '/v1/apply', { body: { documents: semantic } });
    expect(second.status).toBe(400);
    expect(second.body.error.details).toEqual(
      expect.arrayContaining([
        { path: 'documents[1].spec.tools[1].version', message: expect.stringMatching(/no version "9.9"; it offers 1.1.0, 1.2.0/) },
        { path: 'documents[1].spec.tools[1].secret_refs.OPENAI_API_KEY', message: expect.stringMatching(/needs OPENAI_API_KEY/) },
      ]),
    );
    expect(second.body.error.message).toMatch(/documents\[1\] \(Toolbelt "alpha"\)/);
    expect(await state()).toBe(before);
    expect(await api.announced()).toEqual([]);
  });

  it('refuses unknown kinds, duplicates, YAML syntax errors and toolbelts of unknown agents', async () => {
    const before = await state();
    const unknownKind = await api.call('POST', '/v1/apply', { body: { documents: [{ kind: 'Pod', metadata: { name: 'x' } }] } });
    expect(unknownKind.body.error.details).toEqual([{ path: 'documents[0].kind', message: expect.stringMatching(/Agent, CatalogTool, Toolbelt \(got "Pod"\)/) }]);
    const twice = await api.call('POST', '/v1/apply', {
      body: { documents: [{ kind: 'Agent', metadata: { name: 'a' } }, { kind: 'Agent', metadata: { name: 'a' } }] },
    });
    expect(twice.body.error.details[0]).toMatchObject({ path: 'documents[1].metadata.name', message: /declared twice/ });
    const syntax = await api.call('POST', '/v1/apply', { rawBody: 'kind: Agent\nmetadata: {name: [\n', headers: { 'content-type': 'application/yaml' } });
    expect(syntax.status).toBe(400);
    expect(syntax.body.error.details[0].message).toMatch(/YAML syntax error at line/);
    const orphan = await api.call('POST', '/v1/apply', {
      body: { documents: [{ kind: 'Toolbelt', metadata: { name: 'ghost' }, spec: { tools: [] } }] },
    });
    expect(orphan.body.error.details).toEqual([{ path: 'documents[0].metadata.name', message: expect.stringMatching(/no agent is named "ghost"/) }]);
    expect(await state()).toBe(before);
  });

  it('prunes only with --prune, only within the declared kinds, and shows it in a dry run first', async () => {
    await api.call('POST', '/v1/apply', { body: { documents: exampleDocs() } });
    await api.call('POST', '/v1/agents', { body: { name: 'stray', environment: { active: false } } });
    const docs = exampleDocs();
    docs[1].spec.tools = docs[1].spec.tools.slice(1);
    const withoutPrune = await api.call('POST', '/v1/apply', { body: { documents: docs } });
    expect(withoutPrune.body.changed).toBe(false);

    const onlyToolbelt = [docs[1]];
    const dry = await api.call('POST', '/v1/apply', { body: { documents: onlyToolbelt, prune: true, dryRun: true } });
    expect(dry.body.results).toEqual(
      expect.arrayContaining([{ kind: 'Tool', name: 'alpha/everything', action: 'deleted' }]),
    );
    expect(dry.body.results.some((r: { kind: string }) => r.kind === 'Agent')).toBe(false);
    const tools = await api.call('GET', '/v1/agents/alpha/tools');
    expect(tools.body.items.every((x: { deletion_requested_at: unknown }) => x.deletion_requested_at === null)).toBe(true);

    const pruned = await api.call('POST', '/v1/apply', { body: { documents: docs, prune: true } });
    expect(pruned.body.results).toEqual(
      expect.arrayContaining([
        { kind: 'Tool', name: 'alpha/everything', action: 'deleted' },
        { kind: 'Agent', name: 'stray', action: 'deleted' },
      ]),
    );
    const inUse = await api.call('POST', '/v1/apply', { body: { documents: [docs[3]], prune: true } });
    expect(inUse.status).toBe(409);
    expect(inUse.body.error.message).toMatch(/cannot prune catalog tool "everything"/);
  });
});
