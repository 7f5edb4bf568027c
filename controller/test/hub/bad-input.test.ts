/**
 * Bad input on an authenticated socket: invalid JSON, wrong types, unknown types, bad
 * versions, oversized frames, floods. Each gets an error code or a close — never a crash —
 * and nothing is written to the store.
 */
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { AGENT_ERROR_CODES, CLOSE_CODES, MAX_FRAME_BYTES, RECEIVE_LIMITS } from '@toolbelt/schema/protocol';
import { sql } from 'drizzle-orm';
import { rowsOf } from '@toolbelt/schema';
import { expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { enrolledEnvironment, makeTool } from '../support/rows.ts';
import { TestAgent } from '../support/test-agent.ts';

describeEachDatabase('agent hub with bad input', (t) => {
  /** Everything the hub could write, as JSON, to compare before and after. */
  async function snapshot(): Promise<string> {
    const tables = ['agent_droplets', 'agent_sessions', 'agent_tool_observations', 'commands', 'droplet_credentials', 'events'];
    const parts: unknown[] = [];
    for (const table of tables) {
      parts.push(rowsOf(await t.db.execute(sql.raw(`select to_jsonb(x) as row from ${table} x order by 1`))));
    }
    return JSON.stringify(parts);
  }

  async function greeted(server: TestHub) {
    const { env, credential } = await enrolledEnvironment(t.db);
    const agent = await TestAgent.connect(server.url, credential);
    await agent.hello();
    await agent.settled();
    await server.hub.flushHeartbeats();
    return { env, credential, agent };
  }

  it('answers malformed frames with a stable code and keeps the socket, changing nothing', async () => {
    const server = await startTestHub(t.database);
    const { env, agent } = await greeted(server);
    const tool = await makeTool(t.db, env.id);
    const before = await snapshot();
    const frames: [string | Buffer, string][] = [
      ['{not json', AGENT_ERROR_CODES.invalidJson],
      [Buffer.from([0xff, 0xfe, 0x00, 0x81]), AGENT_ERROR_CODES.invalidJson],
      ['[1,2,3]', AGENT_ERROR_CODES.invalidMessage],
      ['"hello"', AGENT_ERROR_CODES.invalidMessage],
      ['null', AGENT_ERROR_CODES.invalidMessage],
      ['{"type":"heartbeat"}', AGENT_ERROR_CODES.invalidMessage],
      ['{"type":7,"v":1}', AGENT_ERROR_CODES.invalidMessage],
      ['{"type":"reboot_everything","v":1}', AGENT_ERROR_CODES.unknownType],
      ['{"type":"heartbeat","v":1,"agentVersion":5,"seq":-1,"metrics":{},"toolCount":"x"}', AGENT_ERROR_CODES.invalidMessage],
      [JSON.stringify({ type: 'tool_status', v: 1, tool: { toolInstanceId: tool.id, state: 'exploded' } }), AGENT_ERROR_CODES.invalidMessage],
      [JSON.stringify({ type: 'command_result', v: 1, commandId: '', status: 'done' }), AGENT_ERROR_CODES.invalidMessage],
      [JSON.stringify({ type: 'secret_request', v: 1, requestId: 'r', toolInstanceId: tool.id, names: [] }), AGENT_ERROR_CODES.invalidMessage],
      [JSON.stringify({ type: 'hello', v: 1, __proto__: { admin: true } }), AGENT_ERROR_CODES.invalidMessage],
    ];
    for (const [frame, code] of frames) {
      agent.sendRaw(frame);
      expect(await agent.next('error'), String(frame).slice(0, 40)).toMatchObject({ code });
    }
    await agent.settled();
    await server.hub.flushHeartbeats();
    expect(await snapshot()).toBe(before);
    expect(agent.socket.readyState).toBe(agent.socket.OPEN);
    await server.stop();
  });

  it('closes on an unsupported version (4003), an oversized frame (1009) and too many invalid frames (4002)', async () => {
    const server = await startTestHub(t.database);
    const first = await greeted(server);
    const before = await snapshot();

    first.agent.sendRaw('{"type":"heartbeat","v":99}');
    expect(await first.agent.next('error')).toMatchObject({ code: AGENT_ERROR_CODES.versionUnsupported });
    expect((await first.agent.closed).code).toBe(CLOSE_CODES.versionUnsupported);

    const second = await TestAgent.connect(server.url, first.credential);
    second.sendRaw(JSON.stringify({ type: 'logs', v: 1, pad: 'x'.repeat(MAX_FRAME_BYTES) }));
    expect((await second.closed).code).toBe(CLOSE_CODES.messageTooBig);

    const third = await TestAgent.connect(server.url, first.credential);
    for (let i = 0; i <= RECEIVE_LIMITS.maxInvalidFrames; i += 1) third.sendRaw(`garbage ${i}`);
    expect((await third.closed).code).toBe(CLOSE_CODES.protocolError);

    await server.hub.flushHeartbeats();
    expect(await withoutSessions(await snapshot())).toBe(await withoutSessions(before));
    await server.stop();
  });

  it('closes a flooding socket with 4008 (or 4010, its backlog full) and stays up for everyone else', async () => {
    const server = await startTestHub(t.database);
    const flooder = await greeted(server);
    const bystander = await greeted(server);
    const before = await snapshot();
    const probe = JSON.stringify({ type: 'credential_ack', v: 1, credentialId: 'not-a-credential' });
    for (let i = 0; i < RECEIVE_LIMITS.burst * 5; i += 1) flooder.agent.sendRaw(probe);
    // Each probe waits for the database: the backlog bound (4010) may come before the rate's (4008).
    expect([CLOSE_CODES.rateLimited, CLOSE_CODES.backlog]).toContain((await flooder.agent.closed).code);
    const errors = flooder.agent.received.filter((m) => m.type === 'error').map((m) => (m as { code: string }).code);
    expect(errors).toContain(AGENT_ERROR_CODES.rateLimited);

    await bystander.agent.settled();
    await server.hub.flushHeartbeats();
    expect(await withoutSessions(await snapshot())).toBe(await withoutSessions(before));
    expect(server.hub.isConnected(bystander.env.id)).toBe(true);
    await server.stop();
  });

  it('refuses everything but hello, ack and error before the hello', async () => {
    const server = await startTestHub(t.database);
    const { credential } = await enrolledEnvironment(t.db);
    const agent = await TestAgent.connect(server.url, credential);
    await agent.settled();
    const before = await snapshot();
    agent.send({ type: 'heartbeat', agentVersion: '1', seq: 0, metrics: { cpuPercent: 1, memoryUsedBytes: 1, memoryTotalBytes: 1, diskUsedBytes: 1, diskTotalBytes: 1, load1: 0, load5: 0, load15: 0, uptimeSeconds: 1 }, toolCount: 0 });
    expect(await agent.next('error')).toMatchObject({ code: AGENT_ERROR_CODES.invalidMessage, detail: expect.stringMatching(/hello first/) });
    await server.hub.flushHeartbeats();
    expect(await snapshot()).toBe(before);
    await server.stop();
  });
});

/** Sessions record connects and closes, which these tests cause on purpose. */
async function withoutSessions(snapshot: string): Promise<string> {
  const parts = JSON.parse(snapshot) as unknown[];
  parts.splice(1, 1);
  return JSON.stringify(parts);
}
