/**
 * The attack suite's agent-socket part: a droplet credential sends malformed, oversized,
 * flooding and cross-droplet frames to the whole controller (API, hub, loop). After each
 * attack the process is alive and /readyz answers; every refusal is an `error` frame or a
 * close with a protocol code; nothing changes in the database but the isolation events that
 * record the attempt; and no secret value appears in any frame, log line, event or column.
 */
import { randomBytes } from 'node:crypto';
import { rowsOf } from '@toolbelt/schema';
import { AGENT_ERROR_CODES, CLOSE_CODES, MAX_FRAME_BYTES } from '@toolbelt/schema/protocol';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MAX_UNKNOWN_TOOLS, MAX_VIOLATION_EVENTS } from '../../src/hub/context.ts';
import { enrolledEnvironment, makeTool } from '../support/rows.ts';
import { TestAgent, toolReport } from '../support/test-agent.ts';
import { eventually } from '../support/eventually.ts';
import { type SocketController, startSocketController } from './agent-socket-controller.ts';

const SECRET_VALUE = `s3cret-${randomBytes(12).toString('hex')}`;
/** Close codes a refusal may end with (never 1006: an abrupt end without a code). */
const CLEAN_CLOSES: number[] = [CLOSE_CODES.messageTooBig, CLOSE_CODES.protocolError, CLOSE_CODES.versionUnsupported, CLOSE_CODES.rateLimited, CLOSE_CODES.backlog];

describeEachDatabase('agent socket attacks', (t) => {
  let server: SocketController;
  /** Another droplet with a tool bound to a secret: what the attacker reaches for. */
  let victim: { environmentId: string; toolId: string; commandId: string; credentialId: string };

  beforeAll(async () => {
    server = await startSocketController(t);
    const { env, credentialId } = await enrolledEnvironment(t.db);
    const tool = await makeTool(t.db, env.id);
    const agent = rowsOf<{ name: string }>(await t.db.execute(sql`select a.name from agents a join agent_droplets d on d.agent_id = a.id where d.id = ${env.id}`))[0]!;
    expect((await server.call('PUT', `/v1/agents/${agent.name}/secrets/victim-secret`, { value: SECRET_VALUE })).status).toBe(200);
    await t.db.execute(sql`update agent_droplet_tools set secret_refs = '{"SECRET":"victim-secret"}'::jsonb where id = ${tool.id}`);
    const command = rowsOf<{ id: string }>(
      await t.db.execute(sql`insert into commands (agent_droplet_id, command_type, tool_instance_id, generation, payload, status, deadline)
        values (${env.id}, 'start', ${tool.id}, 1, '{}'::jsonb, 'sent', now() + interval '1 hour') returning id`),
    )[0]!;
    victim = { environmentId: env.id, toolId: tool.id, commandId: command.id, credentialId };
  }, 180_000);
  afterAll(async () => {
    await server.stop();
  });

  /** Every table as JSON, but the events (which record attempts by design). */
  async function snapshot(): Promise<string> {
    const tables = ['agents', 'agent_droplets', 'agent_droplet_tools', 'agent_tool_observations', 'commands', 'droplet_credentials', 'secrets'];
    const parts: unknown[] = [];
    for (const table of tables) parts.push(rowsOf(await t.db.execute(sql.raw(`select to_jsonb(x) as row from ${table} x order by 1`))));
    return JSON.stringify(parts);
  }

  /** Everything the store holds, every column, as one text. */
  async function everyColumn(): Promise<string> {
    const tables = rowsOf<{ table_name: string }>(
      await t.db.execute(sql`select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`),
    );
    let text = '';
    for (const { table_name } of tables) text += JSON.stringify(rowsOf(await t.db.execute(sql.raw(`select to_jsonb(x) as row from "${table_name}" x`))));
    return text;
  }

  let dropletIds = 770_000;
  /** A droplet whose agent is connected (a live droplet, so the tools reconciler acts on it). */
  async function attacker() {
    const { env, credential } = await enrolledEnvironment(t.db);
    dropletIds += 1;
    await t.db.execute(sql`update agent_droplets set droplet_id = ${dropletIds}, status = 'active' where id = ${env.id}`);
    const agent = await TestAgent.connect(server.agentUrl, credential);
    await agent.hello();
    await agent.settled();
    await server.controller.hub.flushHeartbeats();
    return { env, agent };
  }

  async function assertHealthy(): Promise<void> {
    const ready = await fetch(`${server.controller.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(server.controller.hub.stats().connections).toBeGreaterThanOrEqual(0);
  }

  function assertNoSecret(frames: unknown[]): void {
    expect(JSON.stringify(frames)).not.toContain(SECRET_VALUE);
    expect(server.lines.join('\n')).not.toContain(SECRET_VALUE);
  }

  it('refuses malformed frames with an error code, keeps serving, changes nothing', async () => {
    const { agent } = await attacker();
    const before = await snapshot();
    const frames = ['{', 'null', '[]', '{"type":"hello"}', '{"type":"inventory","v":1,"inventory":"x"}', '{"type":"x","v":1}', '{"type":"tool_status","v":1,"tool":{"toolInstanceId":"../../etc"}}', Buffer.from([0xc3, 0x28])];
    for (const frame of frames) {
      agent.sendRaw(frame);
      const error = await agent.next('error');
      expect([AGENT_ERROR_CODES.invalidJson, AGENT_ERROR_CODES.invalidMessage, AGENT_ERROR_CODES.unknownType]).toContain(error.code);
    }
    expect(await snapshot()).toBe(before);
    await assertHealthy();
    assertNoSecret(agent.received);
  });

  it('closes on oversized frames with 1009, on a byte flood with 4008 and on a backlog with 4010', async () => {
    const oversized = await attacker();
    oversized.agent.sendRaw('x'.repeat(MAX_FRAME_BYTES + 1));
    expect((await oversized.agent.closed).code).toBe(CLOSE_CODES.messageTooBig);

    // 1 MiB inventories back to back: the byte budget (256 KiB/s, bursts of 4 MiB) runs out.
    const bytes = await attacker();
    const big = JSON.stringify({ type: 'inventory', v: 1, inventory: Array.from({ length: 1000 }, (_, i) => ({ ...toolReport(`big-${i}`), reason: 'r'.repeat(800) })) });
    expect(Buffer.byteLength(big)).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    for (let i = 0; i < 8; i += 1) bytes.agent.sendRaw(big);
    const closed = await bytes.agent.closed;
    expect(CLEAN_CLOSES).toContain(closed.code);
    expect([CLOSE_CODES.rateLimited, CLOSE_CODES.backlog]).toContain(closed.code);
    await assertHealthy();
  });

  it('coalesces inventories: a burst of them is handled as the latest, and unknown tools are bounded', async () => {
    const { env, agent } = await attacker();
    const inventories = Array.from({ length: 30 }, (_, n) => Array.from({ length: 200 }, (_, i) => toolReport(`inv${n}-${i}`)));
    for (const inventory of inventories) agent.send({ type: 'inventory', inventory });
    await agent.settled();
    const rows = rowsOf<{ id: string }>(await t.db.execute(sql`select tool_instance_id as id from agent_tool_observations where agent_droplet_id = ${env.id}`));
    // Only the latest inventory is kept, and of its invented tools only so many.
    expect(rows).toHaveLength(MAX_UNKNOWN_TOOLS);
    expect(rows.every((r) => r.id.startsWith('inv29-'))).toBe(true);
    await assertHealthy();
  });

  it('refuses cross-droplet frames: no secret, no write but the isolation events (bounded), the socket stays', async () => {
    const { env, agent } = await attacker();
    const before = await snapshot();
    const eventsBefore = rowsOf<{ n: number }>(await t.db.execute(sql`select count(*)::int as n from events`))[0]!.n;
    agent.hello({ droplet: { hostname: 'x', environmentId: victim.environmentId } } as never);
    expect((await agent.closed).code).toBe(CLOSE_CODES.protocolError);

    const { agent: second } = await attacker();
    const attempts = 30;
    for (let i = 0; i < attempts; i += 1) {
      second.send({ type: 'secret_request', requestId: `steal-${i}`, toolInstanceId: victim.toolId, names: ['SECRET'] });
      second.send({ type: 'tool_status', tool: toolReport(victim.toolId, 'stopped') });
      second.send({ type: 'logs', toolInstanceId: victim.toolId, lines: [], truncated: false });
      second.send({ type: 'command_result', commandId: victim.commandId, status: 'done' });
      second.send({ type: 'credential_ack', credentialId: victim.credentialId });
      second.send({ type: 'inventory', inventory: [toolReport(victim.toolId, 'stopped')] });
    }
    // (The burst makes error frames of its own; settled() waits for its probe's.)
    await second.settled();
    const responses = second.received.filter((m) => m.type === 'secret_response');
    expect(responses).toHaveLength(attempts);
    expect(responses.every((m) => 'error' in m && m.error?.code === AGENT_ERROR_CODES.secretUnavailable && !('values' in m))).toBe(true);
    expect(second.received.filter((m) => m.type === 'error' && m.code === AGENT_ERROR_CODES.unauthorized).length).toBeGreaterThanOrEqual(attempts * 3);
    expect(second.socket.readyState).toBe(second.socket.OPEN);
    // Only the attacker's own environment changed (its session and empty inventory).
    const after = JSON.parse(await snapshot()) as unknown[][];
    const was = JSON.parse(before) as unknown[][];
    const victimRows = (rows: unknown[]) => JSON.stringify(rows.filter((r) => JSON.stringify(r).includes(victim.environmentId) || JSON.stringify(r).includes(victim.toolId)));
    for (let i = 0; i < after.length; i += 1) expect(victimRows(after[i]!)).toBe(victimRows(was[i]!));
    const violations = rowsOf<{ n: number }>(await t.db.execute(sql`select count(*)::int as n from events where reason = 'AgentIsolationViolation'`))[0]!.n;
    const events = rowsOf<{ n: number }>(await t.db.execute(sql`select count(*)::int as n from events`))[0]!.n;
    expect(violations).toBeLessThanOrEqual(2 * MAX_VIOLATION_EVENTS + 1);
    expect(events - eventsBefore).toBeLessThanOrEqual(2 * MAX_VIOLATION_EVENTS + 1 + 10);
    expect(env.id).not.toBe(victim.environmentId);
    await assertHealthy();
    assertNoSecret([...agent.received, ...second.received]);
    expect(await everyColumn()).not.toContain(SECRET_VALUE);
  });

  it('stores and shows nothing unmasked of a tool output, even from an agent that does not mask', async () => {
    const { env, agent } = await attacker();
    const own = await makeTool(t.db, env.id);
    const name = rowsOf<{ name: string }>(await t.db.execute(sql`select a.name from agents a join agent_droplets d on d.agent_id = a.id where d.id = ${env.id}`))[0]!.name;
    const value = `own-${randomBytes(8).toString('hex')}`;
    expect((await server.call('PUT', `/v1/agents/${name}/secrets/own-secret`, { value })).status).toBe(200);
    await t.db.execute(sql`update agent_droplet_tools set secret_refs = '{"OWN_KEY":"own-secret"}'::jsonb where id = ${own.id}`);
    const at = new Date().toISOString();
    const leaky = {
      ...toolReport(own.id, 'stopped'),
      state: 'crash_loop' as const,
      reason: `exited: bad key ${value}`,
      lastLogLines: [{ at, stream: 'stderr' as const, text: `auth failed for ${JSON.stringify({ key: value })}` }],
    };
    agent.send({ type: 'tool_status', tool: leaky });
    await agent.settled();
    const viewer = await server.call('POST', '/v1/tokens', { name: `viewer-${value.slice(-4)}`, role: 'viewer' });
    const token = (JSON.parse(viewer.text) as { token: string }).token;
    const shown = await eventually(async () => {
      const res = await fetch(`${server.controller.url}/v1/agents/${name}/tools`, { headers: { authorization: `Bearer ${token}` } });
      const text = await res.text();
      return text.includes('auth failed') ? text : undefined;
    });
    expect(shown).toContain('***');
    expect(shown).not.toContain(value);
    const events = await server.call('GET', `/v1/events?limit=500`);
    expect(events.text).not.toContain(value);
    expect(await everyColumn()).not.toContain(value);
    expect(server.lines.join('\n')).not.toContain(value);
  });
});
