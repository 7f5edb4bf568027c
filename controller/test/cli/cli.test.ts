import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { insertToolCalls, listAgents, recordEvent, rowsOf, type ToolCallInput } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { localSecretStore, resetSpecTables, startTestApi, type TestApi } from '../support/api.ts';
import type { SecretStore } from '../../src/api/secrets.ts';
import { spawnToolbelt, toolbelt } from './run-toolbelt.ts';

// Each test starts the real binary several times, a node process apiece: seconds each on a
// loaded machine. The deadline is for liveness, not speed.
vi.setConfig({ testTimeout: 180_000 });

const EXAMPLES = fileURLToPath(new URL('../../../examples/declarative', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'toolbelt-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describeEachDatabase('toolbelt CLI', (t) => {
  let api: TestApi;
  let secrets: SecretStore;
  let env: Record<string, string>;
  beforeAll(async () => {
    secrets = localSecretStore(t.db);
    api = await startTestApi(t, { secrets });
    env = { TOOLBELT_SERVER: api.url, TOOLBELT_TOKEN: api.adminToken };
  });
  afterAll(() => api.stop());
  beforeEach(() => resetSpecTables(t.db));
  const spec = async () =>
    JSON.stringify(rowsOf(await t.db.execute(sql`select name, tool_environment_active, generation from agents order by name`)));

  it('applies a directory: dry run first, then for real, then again with nothing to do', async () => {
    const dry = await toolbelt(['apply', '-f', EXAMPLES, '--dry-run'], { env });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^agent\/alpha created \(dry run\)$/m);
    expect(await listAgents(t.db, { limit: 10 })).toEqual([]);
    const real = await toolbelt(['apply', '-f', EXAMPLES], { env });
    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout.split('\n')).toEqual([
      'catalogtool/everything created',
      'catalogtool/reasoning created',
      'agent/alpha created',
      'tool/alpha/everything created',
      'tool/alpha/reasoning created',
    ]);
    const before = await spec();
    const again = await toolbelt(['apply', '-f', join(EXAMPLES, 'alpha.yaml'), '-f', join(EXAMPLES, 'catalog.yaml')], { env });
    expect(again.code).toBe(0);
    expect(again.stdout.split('\n').every((l) => l.endsWith(' unchanged'))).toBe(true);
    expect(await spec()).toBe(before);
  });

  it('names the file, document, field and reason of a bad set, exits 1 and applies nothing', async () => {
    const dir = mkdtempSync(join(scratch, 'bad-'));
    writeFileSync(join(dir, 'a.yaml'), 'kind: Agent\nmetadata: {name: good}\n---\nkind: Agent\nmetadata: {name: bad}\nspec:\n  environment: {active: true, region: Mars}\n');
    const result = await toolbelt(['apply', '-f', dir], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: apply refused, nothing was changed$/m);
    expect(result.stderr).toContain(`${join(dir, 'a.yaml')}#2: spec.environment.region: must be a region slug such as "nyc3"`);
    expect(await listAgents(t.db, { limit: 10 })).toEqual([]);
    writeFileSync(join(dir, 'a.yaml'), 'kind: Agent\nmetadata: {name: [\n');
    const syntax = await toolbelt(['apply', '-f', dir], { env });
    expect(syntax.code).toBe(1);
    expect(syntax.stderr).toMatch(/is not valid YAML/);
  });

  it('gets tables, JSON and YAML, and describes an agent with its conditions and events', async () => {
    await toolbelt(['apply', '-f', EXAMPLES], { env });
    const agent = (await listAgents(t.db, { limit: 1 }))[0]!;
    await recordEvent(t.db, { type: 'Warning', reason: 'QuotaExceeded', message: 'droplet limit reached', object: { kind: 'environment', id: agent.id } });
    const table = await toolbelt(['get', 'agents'], { env });
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+EXTERNAL ID\s+ENVIRONMENT\s+REGION\s+SIZE\s+PRICE\s+STATUS\s+READY\s+AGE$/);
    // This API runs no DigitalOcean provider (no loop), so no price is known: "-".
    expect(table.stdout).toMatch(/^alpha\s+-\s+on\s+nyc3\s+s-1vcpu-1gb\s+-\s+pending\s+-\s+\d+s$/m);
    const json = JSON.parse((await toolbelt(['get', 'tools', 'alpha', '-o', 'json'], { env })).stdout);
    expect(json.map((x: { instance_name: string }) => x.instance_name)).toEqual(['everything', 'reasoning']);
    const yaml = parseYaml((await toolbelt(['-o', 'yaml', 'get', 'agent', 'alpha'], { env })).stdout);
    expect(yaml).toMatchObject({ name: 'alpha', environment: { region: 'nyc3' } });
    const described = await toolbelt(['describe', 'agent', 'alpha'], { env });
    expect(described.code).toBe(0);
    expect(described.stdout).toMatch(/Spec: {4}active=true region=nyc3 size=s-1vcpu-1gb/);
    expect(described.stdout).toMatch(/reasoning {2}\(reasoning 1\.2\.0\) {2}desired running, status pending/);
    expect(described.stdout).toMatch(/Warning {2}QuotaExceeded {2}environment\/\w+: droplet limit reached/);
    expect(described.stdout).toMatch(/^ {4}gateway hides: get-env$/m);
    expect((await toolbelt(['get', 'tools', 'alpha'], { env })).stdout).toMatch(/^everything\s+everything\s+\S+\s+running\s+pending\s+-\s+deny 1\s+\d+s$/m);
  });

  it("lists an agent's last gateway calls, oldest first", async () => {
    await toolbelt(['apply', '-f', join(EXAMPLES, 'alpha.yaml'), '-f', join(EXAMPLES, 'catalog.yaml')], { env });
    const agent = (await listAgents(t.db, { limit: 1 }))[0]!;
    const call = (i: number): ToolCallInput => ({
      at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
      caller: 'platform',
      agent_id: agent.id,
      instance_name: 'everything',
      method: 'tools/call',
      tool: `everything__t${i}`,
      duration_ms: i,
      outcome: i === 3 ? 'timeout' : 'ok',
      error_code: i === 3 ? -32001 : null,
      bytes_in: 40,
      bytes_out: 2_000_000,
    });
    await insertToolCalls(t.db, [1, 2, 3].map(call));
    const table = await toolbelt(['calls', 'alpha', '--limit', '2'], { env });
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.split('\n')).toEqual([
      expect.stringMatching(/^TIME\s+CALLER\s+METHOD\s+TOOL\s+OUTCOME\s+CODE\s+MS\s+IN\s+OUT$/),
      expect.stringMatching(/^2026-01-01T00:00:02.000Z\s+platform\s+tools\/call\s+everything__t2\s+ok\s+-\s+2\s+40\s+1953Ki$/),
      expect.stringMatching(/^2026-01-01T00:00:03.000Z\s+platform\s+tools\/call\s+everything__t3\s+timeout\s+-32001\s+3\s+40\s+1953Ki$/),
    ]);
    const json = JSON.parse((await toolbelt(['calls', 'alpha', '-o', 'json'], { env })).stdout);
    expect(json.map((c: { tool: string }) => c.tool)).toEqual(['everything__t1', 'everything__t2', 'everything__t3']);
    expect((await toolbelt(['calls', 'alpha', '--limit', '0'], { env })).code).toBe(2);
  });

  it('switches environments, keeps secrets out of arguments, and exits 2 on usage errors', async () => {
    await toolbelt(['apply', '-f', join(EXAMPLES, 'alpha.yaml'), '-f', join(EXAMPLES, 'catalog.yaml')], { env });
    const off = await toolbelt(['env', 'disable', 'alpha'], { env });
    expect(off.stdout).toMatch(/environment disabled \(nyc3, s-1vcpu-1gb/);
    expect((await listAgents(t.db, { limit: 1 }))[0]!.tool_environment_active).toBe(false);
    const value = 'sk-cli-test-0123456789abcdef';
    const set = await toolbelt(['secrets', 'set', 'openai', '--agent', 'alpha'], { env, stdin: `${value}\n` });
    expect(set.code, set.stderr).toBe(0);
    const agentId = (await listAgents(t.db, { limit: 1 }))[0]!.id;
    expect((await secrets.resolve(agentId, ['openai'])).values).toEqual({ openai: value });
    const asArgument = await toolbelt(['secrets', 'set', 'openai', value, '--agent', 'alpha'], { env });
    expect(asArgument.code).toBe(2);
    expect(asArgument.stderr).toMatch(/never taken as an argument/);
    expect(asArgument.stderr).not.toContain(value);
    const listed = await toolbelt(['secrets', 'list', '--agent', 'alpha'], { env });
    expect(listed.stdout).toMatch(/^openai\s+1/m);
    expect(listed.stdout).not.toContain(value);
    expect(api.logs.join('\n')).not.toContain(value);
    expect((await toolbelt(['get'], { env })).code).toBe(2);
    expect((await toolbelt(['apply'], { env })).code).toBe(2);
    expect((await toolbelt(['get', 'agents', '-o', 'xml'], { env })).code).toBe(2);
  }, 120_000); // six CLI processes; each takes seconds to start on a busy machine

  it('starts the boot attempts of an environment over (env retry)', async () => {
    await toolbelt(['apply', '-f', join(EXAMPLES, 'alpha.yaml'), '-f', join(EXAMPLES, 'catalog.yaml')], { env });
    expect((await toolbelt(['env', 'retry', 'alpha'], { env })).stdout).toMatch(/had no boot failures; nothing to retry/);
    // As the lifecycle leaves an environment stopped in BootFailed after three droplets.
    await t.db.execute(sql`update agent_droplets set boot_failures = 3`);
    const retried = await toolbelt(['env', 'retry', 'alpha'], { env });
    expect(retried.stdout).toMatch(/3 boot failures cleared; droplets are created again/);
    expect(rowsOf(await t.db.execute(sql`select boot_failures from agent_droplets`))).toEqual([{ boot_failures: 0 }]);
    expect((await toolbelt(['env', 'retry'], { env })).code).toBe(2);
  });

  it('explains 401 and 403 and exits 1', async () => {
    const noToken = await toolbelt(['get', 'agents'], { env: { TOOLBELT_SERVER: api.url, TOOLBELT_DATA_DIR: scratch } });
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toMatch(/no Authorization header \(401 UNAUTHENTICATED\)/);
    const viewer = await api.token('viewer');
    const write = await toolbelt(['env', 'enable', 'anyone'], { env: { ...env, TOOLBELT_TOKEN: viewer } });
    expect(write.code).toBe(1);
    expect(write.stderr).toMatch(/has role viewer; this needs operator or above \(403 FORBIDDEN\)/);
  });

  it('follows events as they happen', async () => {
    await api.call('POST', '/v1/agents', { body: { name: 'watched' } });
    const agent = (await listAgents(t.db, { limit: 1 }))[0]!;
    await recordEvent(t.db, { type: 'Normal', reason: 'Before', message: 'already there', object: { kind: 'environment', id: agent.id } });
    const follow = spawnToolbelt(['logs', 'watched', '--follow'], env);
    await follow.waitFor(/Before/);
    await recordEvent(t.db, { type: 'Normal', reason: 'Provisioned', message: 'droplet is active', object: { kind: 'environment', id: agent.id } });
    expect(await follow.waitFor(/Provisioned/)).toMatch(/Normal\s+Provisioned\s+environment\/[\w-]+\s+droplet is active/);
    expect(await follow.stop('SIGINT')).toBe(0);
    expect(follow.stdout.filter((l) => l.includes('Before'))).toHaveLength(1);
  });

  it('apply --wait prints each transition until Ready, and times out with advice', async () => {
    const dir = mkdtempSync(join(scratch, 'wait-'));
    writeFileSync(join(dir, 'a.yaml'), 'kind: Agent\nmetadata: {name: waiter}\nspec: {environment: {active: true}}\n');
    const timeout = await toolbelt(['apply', '-f', dir, '--wait', '--timeout', '1s'], { env });
    expect(timeout.code).toBe(1);
    expect(timeout.stderr).toMatch(/timed out after 1s waiting for waiter/);
    expect(timeout.stderr).toMatch(/toolbelt describe agent waiter/);

    const wait = spawnToolbelt(['apply', '-f', dir, '--wait', '--timeout', '60s'], env);
    await wait.waitFor(/agent\/waiter environment: pending/);
    const condition = (status: string, reason: string) => JSON.stringify([{ type: 'Ready', status, reason, message: reason, lastTransitionTime: new Date().toISOString() }]);
    await t.db.execute(sql`update agent_droplets set status = 'creating', conditions = ${condition('False', 'Creating')}::jsonb`);
    await wait.waitFor(/pending → creating \(Ready=False Creating/);
    await t.db.execute(sql`update agent_droplets set status = 'active', observed_generation = generation, conditions = ${condition('True', 'AgentConnected')}::jsonb`);
    expect(await wait.exited).toBe(0);
    expect(wait.stdout).toContain('agent/waiter is Ready');
  });
});

// The token file is a PGlite convenience, so this runs on a PGlite data directory of its own.
describe('toolbelt server', () => {
  it('runs what npm start runs, prints the first admin token once, and the CLI finds it', async () => {
    const dataDir = join(scratch, 'server-data');
    const server = spawnToolbelt(['server', '--port', '0', '--data-dir', dataDir]);
    const serving = await server.waitFor(/toolbelt controller serving on/);
    const url = (JSON.parse(serving) as { url: string }).url;
    const tokenLine = await server.waitFor(/admin API token \(shown once/);
    const token = /: (tb_\S+)$/.exec(tokenLine)![1]!;
    expect(server.stdout.join('\n')).not.toContain(token);
    const viaFile = await toolbelt(['get', 'agents', '-o', 'json'], { env: { TOOLBELT_SERVER: url, TOOLBELT_DATA_DIR: dataDir } });
    expect(viaFile.code, viaFile.stderr).toBe(0);
    expect(JSON.parse(viaFile.stdout)).toEqual([]);
    expect(statSync(join(dataDir, 'admin-token')).mode & 0o777).toBe(0o600);
    // Secrets work end to end: the controller built its envelope-encrypted store (a development key).
    const local = { TOOLBELT_SERVER: url, TOOLBELT_DATA_DIR: dataDir };
    expect((await toolbelt(['apply', '-f', join(EXAMPLES, 'alpha.yaml')], { env: local })).code).toBe(1); // needs the catalog
    expect((await toolbelt(['apply', '-f', EXAMPLES], { env: local })).code).toBe(0);
    const set = await toolbelt(['secrets', 'set', 'openai', '--agent', 'alpha'], { env: local, stdin: 'sk-server-test-value\n' });
    expect(set.code, set.stderr).toBe(0);
    expect((await toolbelt(['secrets', 'list', '--agent', 'alpha'], { env: local })).stdout).toMatch(/^openai\s+1\s/m);
    expect(statSync(join(dataDir, 'master-key')).mode & 0o777).toBe(0o600);
    expect([...server.stdout, ...server.stderr].join('\n')).not.toContain('sk-server-test-value');
    expect(await server.stop('SIGTERM')).toBe(0);

    const again = spawnToolbelt(['server', '--port', '0', '--data-dir', dataDir]);
    await again.waitFor(/toolbelt controller serving on/);
    expect(await again.stop('SIGTERM')).toBe(0);
    expect([...again.stdout, ...again.stderr].join('\n')).not.toMatch(/admin API token/);
  }, 120_000);
});

describe('toolbelt simulator', () => {
  it('runs the simulator package, which serves the DigitalOcean API until stopped', async () => {
    const simulator = spawnToolbelt(['simulator', '--port', '0']);
    const url = (await simulator.waitFor(/^url: /)).replace(/^url:\s+/, '').trim();
    const token = (await simulator.waitFor(/^token: /)).replace(/^token:\s+/, '').trim();
    const answer = await fetch(`${url}/droplets?per_page=1`, { headers: { authorization: `Bearer ${token}` } });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ droplets: [] });
    expect(await simulator.stop('SIGTERM')).toBe(0);
    const bad = await toolbelt(['simulator', '--no-such-flag']);
    expect(bad.code).toBe(2);
  });
});
