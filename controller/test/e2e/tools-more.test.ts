/**
 * More of tools on droplets, end to end on one real local droplet:
 * - `@modelcontextprotocol/server-everything` from npm over stdio: its real MCP tool list
 *   becomes the instance's capabilities;
 * - bad input: unknown catalog tool, version not offered, config against the template → 400
 *   and nothing changed; a missing secret → `pending_config` with the reason, nothing sent;
 * - a tool that cannot install (no such npm package) → `error` with npm's reason, retried
 *   with backoff; a tool that cannot start (exits at once) → `error` with its last exit and
 *   output; the agent stays connected throughout;
 * - isolation: with this droplet's real credential, asking for another agent's tool secret or
 *   reporting its status is refused and recorded as a Warning event.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { rowsOf } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { afterEach, expect, it } from 'vitest';
import { TestAgent, toolReport } from '../support/test-agent.ts';
import { type E2E, startE2E } from '../support/e2e.ts';
import { freePort } from '../support/ports.ts';
import { eventually } from '../support/eventually.ts';

let e2e: E2E | undefined;
let probe: TestAgent | undefined;
afterEach(async () => {
  probe?.close();
  probe = undefined;
  await e2e?.stop();
  e2e = undefined;
});

describeEachDatabase('tools end to end: npm tools, bad input, isolation', (t) => {
  it(
    'runs server-everything, refuses bad tools clearly, reports failing tools, and keeps agents apart',
    async () => {
      const e = (e2e = await startE2E(t));
      expect((await e.call('POST', '/v1/agents', { name: 'beta', environment: { active: true } })).status).toBe(201);
      const tools = () => e.call('GET', '/v1/agents/beta/tools');
      const get = async (id: string) => (await e.call('GET', `/v1/agents/beta/tools/${id}`)).body;

      // server-everything over stdio: its real tool list appears as capabilities.
      const everything = await e.call('POST', '/v1/agents/beta/tools', { tool_name: 'everything' });
      expect(everything.status, everything.text).toBe(201);
      const running = await eventually(async () => {
        const tool = await get(everything.body.id);
        return tool.status === 'running' && tool.capabilities?.tools?.length > 0 ? tool : undefined;
      }, async () => JSON.stringify(await get(everything.body.id)), 240_000);
      const names = running.capabilities.tools.map((x: { name: string }) => x.name);
      expect(names).toContain('echo');
      expect(names.length).toBeGreaterThan(3);
      expect(running.capabilities.serverInfo.name).toBeTruthy();
      expect(running.endpoints).toEqual([]);

      // Bad input: a clear 400 naming the field, nothing added.
      const before = (await tools()).text;
      const unknown = await e.call('POST', '/v1/agents/beta/tools', { tool_name: 'no-such-tool' });
      expect(unknown.status).toBe(400);
      expect(unknown.body.error.details[0]).toMatchObject({ path: 'tool_name', message: expect.stringMatching(/no catalog tool is named "no-such-tool"/) });
      const version = await e.call('POST', '/v1/agents/beta/tools', { tool_name: 'echo', version: '9.9.9' });
      expect(version.status).toBe(400);
      expect(version.body.error.details[0].message).toMatch(/has no version "9\.9\.9"/);
      const config = await e.call('POST', '/v1/agents/beta/tools', { tool_name: 'echo', config_details: { prefix: 42 } });
      expect(config.status).toBe(400);
      expect(config.body.error.details[0].path).toBe('config_details.prefix');
      expect((await tools()).text).toBe(before);

      // A missing secret: accepted by name, then held back with the reason.
      const lonely = await e.call('POST', '/v1/agents/beta/tools', { tool_name: 'echo', instance_name: 'lonely', secret_refs: { ECHO_SECRET: 'not-set' } });
      expect(lonely.status).toBe(201);
      const held = await eventually(async () => {
        const tool = await get(lonely.body.id);
        return tool.status === 'pending_config' ? tool : undefined;
      }, async () => JSON.stringify(await get(lonely.body.id)));
      expect(held.last_error).toMatch(/no secret named not-set/);
      const heldCommands = rowsOf(await e.controller.database.db.execute(sql`select id from commands where tool_instance_id = ${lonely.body.id}`));
      expect(heldCommands).toEqual([]);
      expect((await e.call('DELETE', `/v1/agents/beta/tools/${lonely.body.id}`)).status).toBeLessThan(300);
      await eventually(async () => (await e.call('GET', `/v1/agents/beta/tools/${lonely.body.id}`)).status === 404, () => 'the held tool was not removed');

      // A package that does not exist: error with npm's reason, retried with backoff.
      const ghost = await e.call('POST', '/v1/catalog', {
        tool_name: 'ghost',
        version_info: { versions: ['1.0.0'], default: '1.0.0' },
        packaging_type: 'npm_package',
        package_identifier: '@toolbelt-test-nonexistent/ghost-tool-4f1c',
        transport: 'mcp-stdio',
      });
      expect(ghost.status, ghost.text).toBe(201);
      const ghostTool = (await e.call('POST', '/v1/agents/beta/tools', { tool_name: 'ghost' })).body;
      const failedInstalls = async () =>
        rowsOf<{ status: string }>(await e.controller.database.db.execute(sql`select status from commands where tool_instance_id = ${ghostTool.id} and command_type = 'install'`));
      await eventually(async () => (await failedInstalls()).filter((c) => c.status === 'failed').length >= 2, async () => JSON.stringify(await failedInstalls()), 180_000);
      const ghostRow = await get(ghostTool.id);
      expect(ghostRow.status).toBe('error');
      expect(ghostRow.last_error).toMatch(/install failed/);

      // A tool that exits at once: error with its last exit and output; the agent lives on.
      const port = await freePort();
      const crashy = await e.call('POST', '/v1/catalog', {
        tool_name: 'crashy-echo',
        version_info: { versions: ['1.0.0'], default: '1.0.0' },
        packaging_type: 'npm_package',
        package_identifier: '@toolbelt/echo-mcp',
        transport: 'mcp-http',
        ports: [port],
        default_config_template: { type: 'object', 'x-toolbelt-launch': { args: ['--transport', 'carrier-pigeon'] } },
      });
      expect(crashy.status, crashy.text).toBe(201);
      const crashTool = (await e.call('POST', '/v1/agents/beta/tools', { tool_name: 'crashy-echo' })).body;
      const crashed = await eventually(async () => {
        const tool = await get(crashTool.id);
        return tool.status === 'error' && /last exit/.test(tool.last_error ?? '') ? tool : undefined;
      }, async () => JSON.stringify(await get(crashTool.id)), 180_000);
      expect(crashed.last_error).toMatch(/last exit: code 2/);
      expect(crashed.last_error).toMatch(/unknown transport "carrier-pigeon"/);
      const environmentId = running.environment_id as string;
      expect(e.controller.hub.isConnected(environmentId)).toBe(true);
      expect((await get(everything.body.id)).status).toBe('running');

      // Isolation: this droplet's own credential, reaching for another agent's tool.
      expect((await e.call('POST', '/v1/agents', { name: 'alpha' })).status).toBe(201);
      expect((await e.call('PUT', '/v1/agents/alpha/secrets/their-secret', { value: 'alpha-only-value' })).status).toBeLessThan(300);
      const theirs = (await e.call('POST', '/v1/agents/alpha/tools', { tool_name: 'echo', secret_refs: { ECHO_SECRET: 'their-secret' } })).body;
      const [dropletDir] = readdirSync(join(e.dataDir, 'droplets'));
      const { credential } = JSON.parse(readFileSync(join(e.dataDir, 'droplets', dropletDir!, 'state', 'credential.json'), 'utf8')) as { credential: string };
      const agentUrl = `${e.controller.url.replace(/^http/, 'ws')}/agent/v1`;
      probe = await TestAgent.connect(agentUrl, credential);
      await probe.hello();
      probe.send({ type: 'secret_request', requestId: 'steal', toolInstanceId: theirs.id, names: ['ECHO_SECRET'] });
      const refused = await probe.next('secret_response');
      expect(refused.values).toBeUndefined();
      expect(refused.error?.reason).toMatch(/not on this droplet/);
      probe.send({ type: 'tool_status', tool: toolReport(theirs.id, 'running') });
      expect(await probe.next('error')).toMatchObject({ detail: expect.stringMatching(/does not belong to this droplet/) });
      const warnings = (await e.call('GET', `/v1/events?object=environment/${environmentId}&limit=100`)).body.items;
      expect(warnings.filter((w: { reason: string }) => w.reason === 'AgentIsolationViolation').length).toBeGreaterThanOrEqual(1);
      expect((await e.call('GET', `/v1/agents/alpha/tools/${theirs.id}`)).body.status).toBe('pending');
      expect(JSON.stringify(probe.received)).not.toContain('alpha-only-value');
    },
    600_000,
  );
});
