/**
 * The hub over real sockets on loopback, on both engines: enrollment, refusals before the
 * upgrade, revocation, rotation, batched heartbeats, commands, isolation and secrets.
 */
import {
  authenticateAgentCredential,
  dropletCredentials,
  enqueueCommand,
  getCommand,
  getEnvironment,
  issueEnrollmentToken,
  listEvents,
  listToolObservations,
  revokeDropletCredentials,
} from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { AGENT_ERROR_CODES, CLOSE_CODES } from '@toolbelt/schema/protocol';
import { expect, it } from 'vitest';
import type { AgentEvent } from '../../src/hub/index.ts';
import { commandOutcome, enqueued, finalCommand } from '../support/commands.ts';
import { startTestHub } from '../support/hub.ts';
import { enrolledEnvironment, makeEnvironment, makeTool } from '../support/rows.ts';
import { type Refused, sampleMetrics, TestAgent, toolReport } from '../support/test-agent.ts';

const refusal = (promise: Promise<unknown>) => promise.then(() => undefined, (e: Refused) => e);

describeEachDatabase('agent hub', (t) => {
  it('enrolls with a single-use token, hands over a credential, and accepts it afterwards', async () => {
    const env = await makeEnvironment(t.db);
    const events: AgentEvent[] = [];
    const server = await startTestHub(t.database, { onAgentEvent: (e) => events.push(e) });
    const { token } = await issueEnrollmentToken(t.db, env.id);

    const agent = await TestAgent.connect(server.url, token);
    const welcome = await agent.next('welcome');
    expect(welcome).toMatchObject({ environmentId: env.id, heartbeatIntervalMs: 15_000 });
    const enrolled = await agent.next('enrolled');
    expect(enrolled.environmentId).toBe(env.id);
    agent.send({ type: 'credential_ack', credentialId: enrolled.credentialId });
    await agent.hello();
    await expect.poll(() => server.hub.isConnected(env.id)).toBe(true);
    expect(events.map((e) => e.kind)).toEqual(['connected', 'hello']);
    agent.close();
    await agent.closed;

    expect(await refusal(TestAgent.connect(server.url, token))).toMatchObject({ status: 401, body: { error: { code: AGENT_ERROR_CODES.unauthorized } } });
    const again = await TestAgent.connect(server.url, enrolled.credential);
    expect((await again.next('welcome')).environmentId).toBe(env.id);
    expect(again.received.some((m) => m.type === 'enrolled')).toBe(false);
    await server.stop();
  });

  it('refuses bad, expired, reused and revoked credentials before upgrading, writing nothing', async () => {
    const server = await startTestHub(t.database);
    const env = await makeEnvironment(t.db);
    const expired = await issueEnrollmentToken(t.db, env.id, { ttlMs: 1, now: new Date(Date.now() - 60_000) });
    const { env: revokedEnv, credential: revoked } = await enrolledEnvironment(t.db);
    await revokeDropletCredentials(t.db, revokedEnv.id);
    const before = await t.db.select().from(dropletCredentials).orderBy(dropletCredentials.id);

    const cases: [string | undefined, number, string][] = [
      [undefined, 401, AGENT_ERROR_CODES.unauthorized],
      ['short', 401, AGENT_ERROR_CODES.unauthorized],
      ['tba1_' + 'x'.repeat(43), 401, AGENT_ERROR_CODES.unauthorized],
      ['not-a-toolbelt-token-at-all', 401, AGENT_ERROR_CODES.unauthorized],
      [expired.token, 401, AGENT_ERROR_CODES.unauthorized],
      [revoked, 403, AGENT_ERROR_CODES.revoked],
    ];
    for (const [token, status, code] of cases) {
      expect(await refusal(TestAgent.connect(server.url, token)), `token ${token?.slice(0, 8)}`).toMatchObject({ status, body: { error: { code } } });
    }
    const fresh = await issueEnrollmentToken(t.db, (await makeEnvironment(t.db)).id);
    const wrongVersion = await refusal(TestAgent.connect(server.url, fresh.token, { headers: { 'x-toolbelt-protocol': '99' } }));
    expect(wrongVersion).toMatchObject({ status: 426, body: { error: { code: AGENT_ERROR_CODES.versionUnsupported } } });
    // The refused version did not spend the enrollment token.
    const after = await t.db.select().from(dropletCredentials).orderBy(dropletCredentials.id);
    expect(after.filter((r) => r.id !== fresh.credentialId)).toEqual(before);
    expect(after.find((r) => r.id === fresh.credentialId)?.used_at).toBeNull();
    expect(server.hub.stats()).toMatchObject({ accepted: 0, refused: cases.length + 1, connections: 0 });
    await server.stop();
  });

  it('closes the socket with 4004 when the droplet is de-provisioned', async () => {
    const server = await startTestHub(t.database);
    const { env, credential } = await enrolledEnvironment(t.db);
    const agent = await TestAgent.connect(server.url, credential);
    await agent.hello();
    await expect.poll(() => server.hub.isConnected(env.id)).toBe(true);
    await revokeDropletCredentials(t.db, env.id);
    expect((await agent.closed).code).toBe(CLOSE_CODES.revoked);
    expect(await refusal(TestAgent.connect(server.url, credential))).toMatchObject({ status: 403, body: { error: { code: AGENT_ERROR_CODES.revoked } } });
    await server.stop();
  });

  it('replaces an older socket of the same droplet with 4009', async () => {
    const server = await startTestHub(t.database);
    const { env, credential } = await enrolledEnvironment(t.db);
    const first = await TestAgent.connect(server.url, credential);
    await first.hello();
    const second = await TestAgent.connect(server.url, credential);
    expect((await first.closed).code).toBe(CLOSE_CODES.replaced);
    await second.hello();
    await expect.poll(() => server.hub.isConnected(env.id)).toBe(true);
    expect(server.hub.stats().connections).toBe(1);
    await server.stop();
  });

  it('rotates an old credential; the agent acks and the old one stops working', async () => {
    const server = await startTestHub(t.database, { credentialRotateAfterMs: 1 });
    const { env, credential } = await enrolledEnvironment(t.db);
    const agent = await TestAgent.connect(server.url, credential);
    await agent.hello();
    const rotation = await agent.next('rotate_credential');
    expect(rotation.credential).not.toBe(credential);
    // Until the ack, both work.
    expect((await authenticateAgentCredential(t.db, credential)).kind).toBe('ok');
    agent.send({ type: 'credential_ack', credentialId: rotation.credentialId });
    await expect.poll(async () => (await authenticateAgentCredential(t.db, credential)).kind).toBe('refused');
    const auth = await authenticateAgentCredential(t.db, rotation.credential);
    expect(auth).toMatchObject({ kind: 'ok', value: { environmentId: env.id } });
    await server.stop();
  });

  it('terminates a socket that stops answering pings', async () => {
    const server = await startTestHub(t.database, { pingIntervalMs: 50 });
    const { env, credential } = await enrolledEnvironment(t.db);
    const events: string[] = [];
    const agent = await TestAgent.connect(server.url, credential, { autoPong: false });
    await agent.hello();
    await expect.poll(() => server.hub.isConnected(env.id)).toBe(true);
    // The client neither pongs nor sends: the hub notices and drops it.
    expect((await agent.closed).code).toBe(1006);
    await expect.poll(() => server.hub.isConnected(env.id)).toBe(false);
    events.push('closed');
    expect(events).toEqual(['closed']);
    await server.stop();
  });

  it('buffers heartbeats and writes them in batches, not one UPDATE per message', async () => {
    const server = await startTestHub(t.database, { heartbeatFlushMs: 3_600_000 });
    const agents = await Promise.all([1, 2, 3].map(() => enrolledEnvironment(t.db)));
    const sockets = await Promise.all(agents.map((a) => TestAgent.connect(server.url, a.credential)));
    for (const socket of sockets) await socket.hello();
    await expect.poll(() => agents.every((a) => server.hub.isConnected(a.env.id))).toBe(true);
    for (let seq = 0; seq < 10; seq += 1) {
      for (const socket of sockets) {
        socket.send({ type: 'heartbeat', agentVersion: '0.2.0', seq, metrics: { ...sampleMetrics, uptimeSeconds: seq }, toolCount: 0 });
      }
    }
    await expect.poll(() => server.hub.stats().heartbeatsReceived).toBe(30 + 3);
    expect((await getEnvironment(t.db, agents[0]!.env.id))?.last_heartbeat_at).toBeNull();
    await server.hub.flushHeartbeats();
    expect(server.hub.stats()).toMatchObject({ heartbeatFlushes: 1, heartbeatRowsWritten: 3 });
    for (const { env } of agents) {
      const row = await getEnvironment(t.db, env.id);
      expect(row).toMatchObject({ agent_version: '0.2.0', host_metrics: { ...sampleMetrics, uptimeSeconds: 9 } });
      expect(row?.last_heartbeat_at).toBeInstanceOf(Date);
    }
    await server.stop();
  });

  it('sends a command, gets it accepted and answered, and ignores a duplicate answer', async () => {
    const events: AgentEvent[] = [];
    const server = await startTestHub(t.database, { onAgentEvent: (e) => events.push(e) });
    const { env, credential } = await enrolledEnvironment(t.db);
    const tool = await makeTool(t.db, env.id);
    const agent = await TestAgent.connect(server.url, credential);
    await agent.hello();
    await expect.poll(() => server.hub.isConnected(env.id)).toBe(true);

    const request = { environmentId: env.id, commandType: 'start', toolInstanceId: tool.id, generation: 1 };
    const written = await enqueued(t.db, request);
    // The same command again while it is open is not sent twice.
    const twin = await enqueued(t.db, request);
    expect(twin.id).toBe(written.id);
    const command = await agent.next('command');
    expect(command).toMatchObject({ commandId: written.id, commandType: 'start', toolInstanceId: tool.id, generation: 1 });
    agent.send({ type: 'command_result', commandId: command.commandId, status: 'accepted' });
    agent.send({ type: 'command_result', commandId: command.commandId, status: 'done', message: 'started', tool: toolReport(tool.id) });
    agent.send({ type: 'command_result', commandId: command.commandId, status: 'failed', error: { code: AGENT_ERROR_CODES.internal, reason: 'late' } });
    const done = await finalCommand(t.db, written.id);
    expect(done).toMatchObject({ id: command.commandId, status: 'done', result: { message: 'started' } });
    await agent.settled();
    expect(agent.received.filter((m) => m.type === 'command')).toEqual([]);
    expect((await getCommand(t.db, command.commandId))?.status).toBe('done');
    expect((await listToolObservations(t.db, env.id)).map((o) => o.tool_instance_id)).toEqual([tool.id]);
    expect(events.filter((e) => e.kind === 'command_result')).toEqual([
      { kind: 'command_result', environmentId: env.id, commandId: command.commandId, toolInstanceId: tool.id },
    ]);
    await server.stop();
  });

  it('delivers commands a reconciler enqueued, also ones queued while the agent was away', async () => {
    const server = await startTestHub(t.database);
    const { env, credential } = await enrolledEnvironment(t.db);
    const offline = await enqueueCommand(t.db, { environmentId: env.id, commandType: 'get_logs', toolInstanceId: 'orphan-tool', generation: 1, payload: { tail: 5 } });
    const agent = await TestAgent.connect(server.url, credential);
    await agent.hello();
    const first = await agent.next('command');
    expect(first.commandId).toBe(offline.kind === 'ok' ? offline.value.command.id : 'missing');
    const online = await enqueueCommand(t.db, { environmentId: env.id, commandType: 'stop', toolInstanceId: 'orphan-tool', generation: 4, payload: {} });
    const second = await agent.next('command');
    expect(second.commandId).toBe(online.kind === 'ok' ? online.value.command.id : 'missing');
    expect((await getCommand(t.db, second.commandId))?.status).toBe('sent');
    await server.stop();
  });

  it('times out a command the agent does not answer, and re-sends in-flight ones on reconnect', async () => {
    const server = await startTestHub(t.database);
    const { env, credential } = await enrolledEnvironment(t.db);
    const agent = await TestAgent.connect(server.url, credential);
    await agent.hello();
    await expect.poll(() => server.hub.isConnected(env.id)).toBe(true);
    const timedOut = await commandOutcome(t.db, { environmentId: env.id, commandType: 'start', toolInstanceId: 'a', generation: 1, timeoutMs: 150 });
    expect(timedOut.status).toBe('timed_out');
    // (The row is final a moment before the sweep that timed it out counts it.)
    await expect.poll(() => server.hub.stats().commandsTimedOut).toBe(1);
    expect((await agent.next('command')).commandId).toBe(timedOut.id);

    const pending = await enqueued(t.db, { environmentId: env.id, commandType: 'start', toolInstanceId: 'b', generation: 1 });
    const lost = await agent.next('command');
    agent.close();
    await agent.closed;
    const back = await TestAgent.connect(server.url, credential);
    await back.hello();
    const resent = await back.next('command');
    expect(resent.commandId).toBe(lost.commandId);
    back.send({ type: 'command_result', commandId: resent.commandId, status: 'done', duplicate: false });
    expect((await finalCommand(t.db, pending.id)).status).toBe('done');
    await server.stop();
  });

  it('lets an agent act only for its own droplet: foreign ids are refused and recorded as Warning events', async () => {
    const server = await startTestHub(t.database, { secrets: async () => ({ TOKEN: 'other-droplets-secret' }) });
    const mine = await enrolledEnvironment(t.db);
    const theirs = await enrolledEnvironment(t.db);
    const theirTool = await makeTool(t.db, theirs.env.id);
    const theirCommand = await enqueueCommand(t.db, { environmentId: theirs.env.id, commandType: 'start', toolInstanceId: theirTool.id, generation: 1 });
    const theirCommandId = theirCommand.kind === 'ok' ? theirCommand.value.command.id : '';
    const agent = await TestAgent.connect(server.url, mine.credential);
    await agent.hello();

    agent.send({ type: 'tool_status', tool: toolReport(theirTool.id) });
    expect(await agent.next('error')).toMatchObject({ code: AGENT_ERROR_CODES.unauthorized });
    agent.send({ type: 'command_result', commandId: theirCommandId, status: 'done' });
    expect(await agent.next('error')).toMatchObject({ code: AGENT_ERROR_CODES.unauthorized, inReplyTo: theirCommandId });
    agent.send({ type: 'secret_request', requestId: 'r1', toolInstanceId: theirTool.id, names: ['TOKEN'] });
    const answer = await agent.next('secret_response');
    expect(answer).toMatchObject({ requestId: 'r1', error: { code: AGENT_ERROR_CODES.secretUnavailable } });
    expect(answer.values).toBeUndefined();

    expect(await listToolObservations(t.db, mine.env.id)).toEqual([]);
    expect(await listToolObservations(t.db, theirs.env.id)).toEqual([]);
    expect((await getCommand(t.db, theirCommandId))?.status).toBe('queued');
    const warnings = await listEvents(t.db, { objectKind: 'environment', objectId: mine.env.id, limit: 10 });
    expect(warnings.map((e) => [e.type, e.reason])).toEqual(new Array(3).fill(['Warning', 'AgentIsolationViolation']));
    expect(server.hub.stats().violations).toBe(3);

    // A hello claiming another environment is refused and the socket closed.
    const liar = await TestAgent.connect(server.url, mine.credential);
    await liar.hello({ droplet: { hostname: 'x', environmentId: theirs.env.id } });
    expect((await liar.closed).code).toBe(CLOSE_CODES.protocolError);
    await server.stop();
  });

  it('answers secret requests for its own tools through the resolver, and refuses without one', async () => {
    const asked: string[][] = [];
    const withStore = await startTestHub(t.database, {
      secrets: async (_env, _tool, names) => (asked.push([...names]), { API_KEY: 'k-123', OTHER: 'not asked for' }),
    });
    const { env, credential } = await enrolledEnvironment(t.db);
    const tool = await makeTool(t.db, env.id);
    const agent = await TestAgent.connect(withStore.url, credential);
    await agent.hello();
    agent.send({ type: 'secret_request', requestId: 'q1', toolInstanceId: tool.id, names: ['API_KEY'] });
    expect(await agent.next('secret_response')).toMatchObject({ requestId: 'q1', toolInstanceId: tool.id, values: { API_KEY: 'k-123' } });
    agent.send({ type: 'secret_request', requestId: 'q2', toolInstanceId: tool.id, names: ['MISSING'] });
    expect(await agent.next('secret_response')).toMatchObject({ requestId: 'q2', error: { code: AGENT_ERROR_CODES.secretUnavailable } });
    expect(asked).toEqual([['API_KEY'], ['MISSING']]);
    await withStore.stop();

    const without = await startTestHub(t.database);
    const again = await TestAgent.connect(without.url, credential);
    await again.hello();
    again.send({ type: 'secret_request', requestId: 'q3', toolInstanceId: tool.id, names: ['API_KEY'] });
    const refused = await again.next('secret_response');
    expect(refused).toMatchObject({ error: { code: AGENT_ERROR_CODES.secretUnavailable, reason: expect.stringMatching(/no secret store/) } });
    await without.stop();
  });

  it('records the inventory of a hello and later tool statuses as observations', async () => {
    const events: AgentEvent[] = [];
    const server = await startTestHub(t.database, { onAgentEvent: (e) => events.push(e) });
    const { env, credential } = await enrolledEnvironment(t.db);
    const tool = await makeTool(t.db, env.id);
    const agent = await TestAgent.connect(server.url, credential);
    await agent.hello({ inventory: [toolReport(tool.id, 'running'), toolReport('orphan-1', 'running')] });
    await expect.poll(async () => (await listToolObservations(t.db, env.id)).length).toBe(2);
    agent.send({ type: 'tool_status', tool: toolReport(tool.id, 'stopped') });
    await expect.poll(async () => (await listToolObservations(t.db, env.id)).find((o) => o.tool_instance_id === tool.id)?.report.state).toBe('stopped');
    expect(events).toContainEqual({ kind: 'tool_status', environmentId: env.id, toolInstanceId: tool.id });
    await server.stop();
  });
});

