/**
 * The gateway on two controller replicas (one real Postgres): a request that reaches the
 * replica not holding the agent's socket is forwarded whole to the one that does, in both
 * protocol revisions, and recorded there once; a forwarded request is never forwarded again.
 * The agent is a protocol client on a real socket that answers `mcp_call` itself.
 * PGlite is one process's database: Postgres only.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { getAgent, listToolCalls, updateToolStatus } from '@toolbelt/schema';
import { GATEWAY_ERROR_CODES, mcpCallBodySchema } from '@toolbelt/schema/protocol';
import { describeEachDatabase, truncateAll } from '@toolbelt/schema/testing';
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, expect } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { type RunningController, startController } from '../../src/controller.ts';
import { FORWARDED_BY } from '../../src/gateway/forward.ts';
import { onPostgres } from '../support/databases.ts';
import { captureLogger } from '../support/loop.ts';
import { enrolledEnvironment, makeTool } from '../support/rows.ts';
import { TestAgent, toolReport } from '../support/test-agent.ts';
import { gatewayClient, type Revision, textOf } from './helpers.ts';

const scratch = mkdtempSync(join(tmpdir(), 'toolbelt-gateway-replicas-'));
const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });
const running = new Set<RunningController>();
afterEach(async () => {
  await Promise.all([...running].map((c) => c.stop()));
  running.clear();
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Answers the agent's `mcp_call`s as one MCP tool offering `hello` would, until the socket closes. */
function serveTool(agent: TestAgent): void {
  void (async () => {
    for (;;) {
      const call = await agent.next('mcp_call');
      const body = mcpCallBodySchema.parse(JSON.parse(call.chunk));
      const result =
        body.method === 'tools/list'
          ? { tools: [{ name: 'hello', description: 'says hello', inputSchema: { type: 'object', properties: { who: { type: 'string' } } } }] }
          : { content: [{ type: 'text', text: `hello ${String((body.params?.arguments as { who?: string } | undefined)?.who)}` }] };
      agent.send({ type: 'mcp_reply', callId: call.callId, chunk: JSON.stringify({ result }), last: true });
    }
  })();
}

describeEachDatabase('MCP gateway across replicas', (t) => {
  const onPg = onPostgres(t, 'two replicas need two database sessions; PGlite is one');
  afterEach(() => truncateAll(t.db));

  async function replica(name: string): Promise<{ controller: RunningController; token: string }> {
    const token = `tb_${randomBytes(32).toString('base64url')}`;
    const config = parseConfig(['--port', '0', '--replica-id', name, '--database-url', t.url!, '--data-dir', join(scratch, name)], {
      TOOLBELT_ADMIN_TOKEN: token,
      TOOLBELT_MASTER_KEY: randomBytes(32).toString('base64'),
      TOOLBELT_RESYNC_INTERVAL_MS: String(10 * 60_000),
    });
    const controller = await startController(config, captureLogger().logger, { stderr: quiet, loop: false });
    running.add(controller);
    return { controller, token };
  }

  /** An agent with its environment on, one running MCP tool, and its socket held by `holder`. */
  async function agentOn(holder: RunningController) {
    const { env, credential } = await enrolledEnvironment(t.db);
    await t.db.execute(sql`update agents set tool_environment_active = true where id = ${env.agent_id}`);
    const tool = await makeTool(t.db, env.id);
    await t.db.execute(sql`update tool_catalog set transport = 'mcp-stdio' where id = ${tool.tool_catalog_id}`);
    // No loop runs here: the tool's status is what the tools reconciler would make of a report.
    await updateToolStatus(t.db, tool.id, { status: 'running' });
    const agent = await TestAgent.connect(`${holder.url.replace(/^http/, 'ws')}/agent/v1`, credential);
    await agent.hello({ inventory: [toolReport(tool.id)] });
    await expect.poll(() => holder.hub.isConnected(env.id)).toBe(true);
    serveTool(agent);
    const name = (await getAgent(t.db, env.agent_id))!.name;
    return { agentId: env.agent_id, environmentId: env.id, name, instance: tool.instance_name, agent };
  }

  for (const revision of ['2026-07-28', '2025-11-25'] as Revision[]) {
    onPg(`forwards a request to the replica holding the agent's socket (${revision})`, async () => {
      const a = await replica('gw-a');
      const b = await replica('gw-b');
      const { agentId, environmentId, name, instance } = await agentOn(a.controller);
      expect(b.controller.hub.isConnected(environmentId)).toBe(false);
      const client = await gatewayClient(`${b.controller.url}/v1/agents/${name}/mcp`, b.token, revision);
      try {
        const { tools } = await client.listTools();
        expect(tools.map((tool) => tool.name)).toEqual([`${instance}__hello`]);
        expect(textOf(await client.callTool({ name: `${instance}__hello`, arguments: { who: 'b' } }))).toBe('hello b');
      } finally {
        await client.close();
      }
      // Recorded once, by the holder (its audit is written in batches).
      await expect.poll(async () => (await listToolCalls(t.db, agentId, { limit: 10 })).filter((c) => c.method === 'tools/call').length, { timeout: 5_000 }).toBe(1);
    });
  }

  onPg('never forwards a forwarded request again: the replica it reached answers it', async () => {
    const a = await replica('gw-a');
    const b = await replica('gw-b');
    const { name, instance } = await agentOn(a.controller);
    const request = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'hop', version: '1' } } };
    const hop = await fetch(`${b.controller.url}/v1/agents/${name}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${b.token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', [FORWARDED_BY]: 'gw-a' },
      body: JSON.stringify(request),
    });
    // Answered on b itself: a session of b's (a's would not be known there), whose calls find no socket here.
    expect(hop.status).toBe(200);
    const session = hop.headers.get('mcp-session-id')!;
    await hop.text();
    const call = await fetch(`${b.controller.url}/v1/agents/${name}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${b.token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': session,
        'mcp-protocol-version': '2025-11-25',
        [FORWARDED_BY]: 'gw-a',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: `${instance}__hello`, arguments: {} } }),
    });
    expect(await call.text()).toContain(String(GATEWAY_ERROR_CODES.agentUnavailable));
  });
});
