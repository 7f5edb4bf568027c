/**
 * The hub's queries in @toolbelt/schema, on both engines: credentials (enrollment, use,
 * rotation, revocation), commands (enqueue with de-duplication, claim, answer, expiry) and
 * the batched heartbeat write.
 */
import {
  addToolInstance,
  appendCommandLogs,
  authenticateAgentCredential,
  claimCommands,
  confirmAgentCredential,
  createAgent,
  createCatalogTool,
  createEnvironment,
  enqueueCommand,
  expireCommands,
  getCommand,
  getEnvironment,
  hashToken,
  issueEnrollmentToken,
  listCommands,
  listToolObservations,
  recordCommandResult,
  redeemEnrollmentToken,
  replaceToolObservations,
  revokeDropletCredentials,
  rotateAgentCredential,
  toolInstanceOwners,
  upsertToolObservation,
  writeHeartbeats,
  dropletCredentials,
  COMMANDS_CHANNEL,
  CREDENTIALS_REVOKED_CHANNEL,
} from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { eq } from 'drizzle-orm';
import { expect, it } from 'vitest';

function value<T>(result: { kind: string; value?: T }): T {
  if (result.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(result)}`);
  return result.value as T;
}

let names = 0;

describeEachDatabase('hub store', (t) => {
  async function environment() {
    names += 1;
    const agent = value(await createAgent(t.db, { name: `store-${names}` }));
    return value(await createEnvironment(t.db, agent.id, { region: 'nyc3', size: 's-1vcpu-1gb' }));
  }

  it('trades an enrollment token once for an agent credential, stored only as hashes', async () => {
    const env = await environment();
    const enrollment = await issueEnrollmentToken(t.db, env.id, { ttlMs: 60_000 });
    const issued = value(await redeemEnrollmentToken(t.db, enrollment.token));
    expect(issued.environmentId).toBe(env.id);
    expect(issued.token).not.toBe(enrollment.token);
    expect(await redeemEnrollmentToken(t.db, enrollment.token)).toEqual({ kind: 'refused', reason: 'used' });

    const rows = await t.db.select().from(dropletCredentials).where(eq(dropletCredentials.agent_droplet_id, env.id));
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.token_hash).toMatch(/^[0-9a-f]{64}$/);
      expect([hashToken(enrollment.token), hashToken(issued.token)]).toContain(row.token_hash);
    }
    const auth = value(await authenticateAgentCredential(t.db, issued.token));
    expect(auth).toMatchObject({ environmentId: env.id, credentialId: issued.credentialId });
  });

  it('lets an enrollment be redeemed again after the retry window while its credential was never confirmed', async () => {
    const env = await environment();
    const at = (seconds: number) => new Date(Date.UTC(2026, 10, 24, 12, 0, seconds));
    const enrollment = await issueEnrollmentToken(t.db, env.id, { ttlMs: 3_600_000, now: at(0) });
    const lost = value(await redeemEnrollmentToken(t.db, enrollment.token, { now: at(1) }));
    // A racing second redemption inside the window loses, as before.
    expect(await redeemEnrollmentToken(t.db, enrollment.token, { now: at(2) })).toEqual({ kind: 'refused', reason: 'used' });
    // The answer carrying `lost` never reached the agent: past the window the token works again,
    // and the unconfirmed credential is revoked.
    const again = value(await redeemEnrollmentToken(t.db, enrollment.token, { now: at(32) }));
    expect(again.credentialId).not.toBe(lost.credentialId);
    expect(await authenticateAgentCredential(t.db, lost.token, { now: at(33) })).toEqual({ kind: 'refused', reason: 'revoked' });
    // The agent confirms the new one (its credential_ack): enrollment is over for good.
    value(await confirmAgentCredential(t.db, env.id, again.credentialId, { now: at(33) }));
    expect(await redeemEnrollmentToken(t.db, enrollment.token, { now: at(3_000) })).toEqual({ kind: 'refused', reason: 'used' });
    expect(value(await authenticateAgentCredential(t.db, again.token, { now: at(3_001) })).credentialId).toBe(again.credentialId);
    // Another environment's confirmed credential does not count.
    const other = await environment();
    const otherEnrollment = await issueEnrollmentToken(t.db, other.id, { ttlMs: 3_600_000, now: at(0) });
    value(await redeemEnrollmentToken(t.db, otherEnrollment.token, { now: at(1) }));
    expect((await redeemEnrollmentToken(t.db, otherEnrollment.token, { now: at(40) })).kind).toBe('ok');
  });

  it('refuses expired, superseded, unknown and wrong-kind tokens', async () => {
    const env = await environment();
    const now = new Date('2030-01-01T00:00:00Z');
    const old = await issueEnrollmentToken(t.db, env.id, { ttlMs: 1000, now });
    const expired = await redeemEnrollmentToken(t.db, old.token, { now: new Date(now.getTime() + 1000) });
    expect(expired).toEqual({ kind: 'refused', reason: 'expired' });
    const newer = await issueEnrollmentToken(t.db, env.id, { ttlMs: 60_000, now });
    expect(await redeemEnrollmentToken(t.db, old.token, { now })).toEqual({ kind: 'refused', reason: 'revoked' });
    expect(await redeemEnrollmentToken(t.db, 'tbe1_nothing-like-it', { now })).toEqual({ kind: 'refused', reason: 'unknown' });
    expect(await authenticateAgentCredential(t.db, newer.token, { now })).toEqual({ kind: 'refused', reason: 'wrong_kind' });
  });

  it('gives each environment its own credential and revokes the old one on re-enrollment', async () => {
    const [a, b] = [await environment(), await environment()];
    const credA = value(await redeemEnrollmentToken(t.db, (await issueEnrollmentToken(t.db, a.id)).token));
    const credB = value(await redeemEnrollmentToken(t.db, (await issueEnrollmentToken(t.db, b.id)).token));
    expect(value(await authenticateAgentCredential(t.db, credA.token)).environmentId).toBe(a.id);
    expect(value(await authenticateAgentCredential(t.db, credB.token)).environmentId).toBe(b.id);
    // A replacement droplet of A enrolls: the old droplet's credential stops working.
    const credA2 = value(await redeemEnrollmentToken(t.db, (await issueEnrollmentToken(t.db, a.id)).token));
    expect(await authenticateAgentCredential(t.db, credA.token)).toEqual({ kind: 'refused', reason: 'revoked' });
    expect(value(await authenticateAgentCredential(t.db, credA2.token)).environmentId).toBe(a.id);
  });

  it('rotates: both work until the agent confirms the new one, then the old is revoked', async () => {
    const env = await environment();
    const other = await environment();
    const first = value(await redeemEnrollmentToken(t.db, (await issueEnrollmentToken(t.db, env.id)).token));
    // The agent acknowledges the credential it got at enrollment.
    expect(value(await confirmAgentCredential(t.db, env.id, first.credentialId))).toEqual({ revokedOthers: 0 });
    const second = await rotateAgentCredential(t.db, env.id, { current: first.credentialId });
    expect(value(await authenticateAgentCredential(t.db, first.token)).credentialId).toBe(first.credentialId);
    // Another environment cannot confirm it.
    expect(await confirmAgentCredential(t.db, other.id, second.credentialId)).toEqual({ kind: 'not_found' });
    expect(value(await confirmAgentCredential(t.db, env.id, second.credentialId))).toEqual({ revokedOthers: 1 });
    expect(await authenticateAgentCredential(t.db, first.token)).toEqual({ kind: 'refused', reason: 'revoked' });
    expect(value(await authenticateAgentCredential(t.db, second.token)).credentialId).toBe(second.credentialId);
    // Authenticating with a fresh rotation confirms it just as an ack does.
    const third = await rotateAgentCredential(t.db, env.id, { current: second.credentialId });
    value(await authenticateAgentCredential(t.db, third.token));
    expect(await authenticateAgentCredential(t.db, second.token)).toEqual({ kind: 'refused', reason: 'revoked' });
  });

  it('revokes every credential of an environment and notifies the replicas', async () => {
    const env = await environment();
    const cred = value(await redeemEnrollmentToken(t.db, (await issueEnrollmentToken(t.db, env.id)).token));
    const pending = await issueEnrollmentToken(t.db, env.id);
    const heard: string[] = [];
    const unlisten = await t.database.listen(CREDENTIALS_REVOKED_CHANNEL, (p) => heard.push(p));
    try {
      expect(await revokeDropletCredentials(t.db, env.id)).toBe(2);
      await expect.poll(() => heard).toContain(env.id);
    } finally {
      await unlisten();
    }
    expect(await authenticateAgentCredential(t.db, cred.token)).toEqual({ kind: 'refused', reason: 'revoked' });
    expect(await redeemEnrollmentToken(t.db, pending.token)).toEqual({ kind: 'refused', reason: 'revoked' });
  });

  it('enqueues a command once per (type, tool, generation), notifies, and claims it once', async () => {
    const env = await environment();
    const heard: string[] = [];
    const unlisten = await t.database.listen(COMMANDS_CHANNEL, (p) => heard.push(p));
    const request = { environmentId: env.id, commandType: 'start', toolInstanceId: 'tool-1', generation: 3, payload: {} };
    try {
      const first = value(await enqueueCommand(t.db, request));
      expect(first.created).toBe(true);
      expect(first.command.status).toBe('queued');
      const again = value(await enqueueCommand(t.db, request));
      expect(again).toMatchObject({ created: false, command: { id: first.command.id } });
      await expect.poll(() => heard).toContain(env.id);
    } finally {
      await unlisten();
    }
    const claimed = await claimCommands(t.db, env.id, { replicaId: 'r1' });
    expect(claimed.map((c) => [c.status, c.attempts, c.sent_by])).toEqual([['sent', 1, 'r1']]);
    expect(await claimCommands(t.db, env.id, { replicaId: 'r2' })).toEqual([]);
    // A new connection gets the ones in flight before it opened again, and only those.
    const sentAt = claimed[0]!.sent_at!;
    expect(await claimCommands(t.db, env.id, { replicaId: 'r2', inFlightSentBefore: sentAt })).toEqual([]);
    const resent = await claimCommands(t.db, env.id, { replicaId: 'r2', inFlightSentBefore: new Date(sentAt.getTime() + 1) });
    expect(resent.map((c) => [c.id, c.attempts])).toEqual([[claimed[0]!.id, 2]]);
    expect(await enqueueCommand(t.db, { ...request, environmentId: '00000000-0000-4000-8000-000000000000' })).toEqual({ kind: 'not_found' });
  });

  it('refuses a command the protocol would refuse, and writes nothing', async () => {
    const env = await environment();
    const refused = await enqueueCommand(t.db, { environmentId: env.id, commandType: 'install', toolInstanceId: 'x', generation: 1, payload: {} });
    expect(refused).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/tool/) });
    expect(await listCommands(t.db, { environmentId: env.id, limit: 10 })).toEqual([]);
  });

  it('records answers only for the answering environment, once', async () => {
    const [env, other] = [await environment(), await environment()];
    const { command } = value(await enqueueCommand(t.db, { environmentId: env.id, commandType: 'get_logs', toolInstanceId: 'x', generation: 1, dedupe: false, payload: { tail: 5 } }));
    const foreign = await recordCommandResult(t.db, { environmentId: other.id, commandId: command.id, status: 'done' });
    expect(foreign).toEqual({ kind: 'foreign', ownerEnvironmentId: env.id });
    expect((await getCommand(t.db, command.id))?.status).toBe('queued');
    expect(await appendCommandLogs(t.db, { environmentId: other.id, commandId: command.id, lines: [{ text: 'no' }], truncated: false })).toMatchObject({ kind: 'foreign' });

    value(await recordCommandResult(t.db, { environmentId: env.id, commandId: command.id, status: 'accepted' }));
    const lines = [1, 2, 3].map((n) => ({ at: 'now', stream: 'stdout', text: `line ${n}` }));
    value(await appendCommandLogs(t.db, { environmentId: env.id, commandId: command.id, lines, truncated: false, maxLines: 2 }));
    const done = value(await recordCommandResult(t.db, { environmentId: env.id, commandId: command.id, status: 'done', result: { message: 'ok' } }));
    expect(done.status).toBe('done');
    expect(done.finished_at).toBeInstanceOf(Date);
    const again = await recordCommandResult(t.db, { environmentId: env.id, commandId: command.id, status: 'failed' });
    expect(again).toMatchObject({ kind: 'already_final', command: { status: 'done' } });
    expect(await recordCommandResult(t.db, { environmentId: env.id, commandId: 'not-a-uuid', status: 'done' })).toEqual({ kind: 'not_found' });
  });

  it('keeps the newest log lines of a get_logs answer', async () => {
    const env = await environment();
    const { command } = value(await enqueueCommand(t.db, { environmentId: env.id, commandType: 'get_logs', toolInstanceId: 'x', generation: 1, dedupe: false, payload: {} }));
    const line = (n: number) => ({ at: 'now', stream: 'stdout', text: `line ${n}` });
    value(await appendCommandLogs(t.db, { environmentId: env.id, commandId: command.id, lines: [line(1), line(2)], truncated: false, maxLines: 3 }));
    value(await appendCommandLogs(t.db, { environmentId: env.id, commandId: command.id, lines: [line(3), line(4)], truncated: true, maxLines: 3 }));
    const result = (await getCommand(t.db, command.id))?.result as { logs: { text: string }[]; logsTruncated: boolean };
    expect(result.logs.map((l) => l.text)).toEqual(['line 2', 'line 3', 'line 4']);
    expect(result.logsTruncated).toBe(true);
  });

  it('times out open commands past their deadline, each once', async () => {
    const env = await environment();
    const now = new Date('2030-01-01T00:00:00Z');
    const { command } = value(await enqueueCommand(t.db, { environmentId: env.id, commandType: 'start', toolInstanceId: 't', generation: 1, timeoutMs: 1000 }, { now }));
    // (Scoped to this command: other tests' commands are due in 2030 too.)
    expect(await expireCommands(t.db, { now: new Date(now.getTime() + 999), commandId: command.id })).toEqual([]);
    const later = new Date(now.getTime() + 1000);
    const expired = await expireCommands(t.db, { now: later });
    expect(expired.filter((c) => c.id === command.id).map((c) => c.status)).toEqual(['timed_out']);
    expect(await expireCommands(t.db, { now: later })).toEqual([]);
    // The next reconcile can issue the same command again: the timed-out one is not open.
    expect(value(await enqueueCommand(t.db, { environmentId: env.id, commandType: 'start', toolInstanceId: 't', generation: 1 })).created).toBe(true);
  });

  it('writes many heartbeats in one statement and never moves last seen backwards', async () => {
    const envs = [await environment(), await environment()];
    const at = new Date('2030-01-01T00:00:00Z');
    const metrics = { cpuPercent: 5, memoryUsedBytes: 1, memoryTotalBytes: 2, diskUsedBytes: 3, diskTotalBytes: 4, load1: 0, load5: 0, load15: 0, uptimeSeconds: 9 };
    const n = await writeHeartbeats(t.db, envs.map((e) => ({ environmentId: e.id, at, agentVersion: '1.2.3', metrics })));
    expect(n).toBe(2);
    const first = await getEnvironment(t.db, envs[0]!.id);
    expect(first).toMatchObject({ agent_version: '1.2.3', host_metrics: metrics, generation: 1 });
    expect(first?.last_heartbeat_at?.toISOString()).toBe(at.toISOString());
    const older = new Date(at.getTime() - 1000);
    expect(await writeHeartbeats(t.db, [{ environmentId: envs[0]!.id, at: older, agentVersion: '0.0.1' }])).toBe(0);
    // Without metrics the stored ones stay.
    const newer = new Date(at.getTime() + 1000);
    expect(await writeHeartbeats(t.db, [{ environmentId: envs[0]!.id, at: newer, agentVersion: '1.2.4' }])).toBe(1);
    expect(await getEnvironment(t.db, envs[0]!.id)).toMatchObject({ agent_version: '1.2.4', host_metrics: metrics });
  });

  it('keeps tool observations per environment and tells which environment owns a tool', async () => {
    const env = await environment();
    const tool = value(await createCatalogTool(t.db, {
      tool_name: `echo-${names}`,
      version_info: { versions: ['1.0.0'], default: '1.0.0' },
      packaging_type: 'npm_package',
      package_identifier: 'echo',
    }));
    const instance = value(await addToolInstance(t.db, env.id, { tool_catalog_id: tool.id, instance_name: 'echo', version: '1.0.0' }));
    const owners = await toolInstanceOwners(t.db, [instance.id, 'orphan', '00000000-0000-4000-8000-000000000000']);
    expect([...owners]).toEqual([[instance.id, env.id]]);
    const at = new Date();
    await replaceToolObservations(t.db, env.id, [{ toolInstanceId: instance.id, state: 'running' }, { toolInstanceId: 'orphan', state: 'running' }], at);
    await upsertToolObservation(t.db, env.id, { toolInstanceId: instance.id, state: 'stopped' }, at);
    await replaceToolObservations(t.db, env.id, [{ toolInstanceId: instance.id, state: 'stopped' }], at);
    const rows = await listToolObservations(t.db, env.id);
    expect(rows.map((r) => [r.tool_instance_id, r.report.state])).toEqual([[instance.id, 'stopped']]);
  });
});
