import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AGENT_ERROR_CODES, CLOSE_CODES, MAX_FRAME_BYTES } from '@toolbelt/schema/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { type AgentProcess, startAgentProcess, testConfig } from './helpers/agent-process.ts';
import { startTestPeer, type TestPeer } from './helpers/peer.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(peerOptions = {}, configOverrides = {}): Promise<{ peer: TestPeer; agent: AgentProcess }> {
  const peer = await startTestPeer(peerOptions);
  cleanups.push(() => peer.close());
  const agent = startAgentProcess(testConfig({ controllerUrl: peer.url, enrollmentToken: peer.enrollmentToken, ...configOverrides }));
  cleanups.push(() => agent.kill('SIGKILL'));
  return { peer, agent };
}

describe('agent connection', () => {
  it('enrolls with the token, stores the credential 0600 and uses it from then on', async () => {
    const { peer, agent } = await setup();
    const hello = await peer.waitFor('hello');
    expect(hello.protocolVersion).toBe(1);
    expect(hello.droplet.hostname.length).toBeGreaterThan(0);
    expect(hello.inventory).toEqual([]);
    expect(hello.runtimes).toEqual(['process']);
    const ack = await peer.waitFor('credential_ack');
    const stored = JSON.parse(await readFile(join(agent.stateDir, 'credential.json'), 'utf8'));
    expect(stored.credentialId).toBe(ack.credentialId);
    expect(peer.credentials.has(stored.credential)).toBe(true);
    expect(statSync(join(agent.stateDir, 'credential.json')).mode & 0o777).toBe(0o600);
    // The token appears in no log line, nor does the credential.
    expect(agent.log.join('\n')).not.toContain(peer.enrollmentToken);
    expect(agent.log.join('\n')).not.toContain(stored.credential);

    const since = peer.mark();
    peer.disconnect(CLOSE_CODES.goingAway, 'controller restart');
    await peer.waitFor('hello', undefined, since);
    expect(peer.upgrades.at(-1)).toEqual({ bearer: stored.credential, accepted: true });
  });

  it('heartbeats with host metrics and agent version', async () => {
    const { peer } = await setup();
    const heartbeat = await peer.waitFor('heartbeat');
    expect(heartbeat.seq).toBe(1);
    expect(heartbeat.metrics.memoryTotalBytes).toBeGreaterThan(heartbeat.metrics.memoryUsedBytes);
    expect(heartbeat.metrics.diskTotalBytes).toBeGreaterThan(0);
    expect(heartbeat.metrics.uptimeSeconds).toBeGreaterThan(0);
    expect(heartbeat.agentVersion).toMatch(/^\d+\.\d+\.\d+/);
    const second = await peer.waitFor('heartbeat', (h) => h.seq === 2);
    expect(second.metrics.cpuPercent).toBeGreaterThanOrEqual(0);
  });

  it("heartbeats right after hello, then at the interval welcome gives (not its config's)", async () => {
    // Configured for five minutes: only the controller's one second can bring a second beat in time.
    const { peer } = await setup({ heartbeatIntervalMs: 1000 }, { heartbeatIntervalMs: 300_000 });
    const first = await peer.waitFor('heartbeat');
    expect(first.seq).toBe(1);
    expect((await peer.waitFor('heartbeat', (h) => h.seq === 3)).seq).toBe(3);
    // After a reconnect the first beat again follows the hello at once.
    const since = peer.mark();
    peer.disconnect(CLOSE_CODES.goingAway, 'controller restart');
    await peer.waitFor('hello', undefined, since);
    expect((await peer.waitFor('heartbeat', undefined, since)).seq).toBe(1);
  });

  it('keeps retrying with backoff while unauthorized', async () => {
    const { peer, agent } = await setup();
    await peer.waitFor('credential_ack');
    peer.revokeAll();
    peer.disconnect(CLOSE_CODES.goingAway);
    // Refused upgrades pile up: the agent retries (with backoff) and stays alive.
    await expect.poll(() => peer.upgrades.filter((u) => !u.accepted).length, { timeout: 20_000 }).toBeGreaterThan(2);
    expect(agent.child.exitCode).toBeNull();
  });

  it('stops reconnecting after a revoked close (4004)', async () => {
    const { peer, agent } = await setup();
    await peer.waitFor('credential_ack');
    peer.disconnect(CLOSE_CODES.revoked, 'droplet de-provisioned');
    await expect.poll(() => agent.log.some((l) => l.includes('revoked this droplet')), { timeout: 20_000 }).toBe(true);
    const upgrades = peer.upgrades.length;
    // A later heartbeat interval passes without a new dial (the agent logs no reconnect).
    await new Promise((r) => setTimeout(r, 1500));
    expect(peer.upgrades.length).toBe(upgrades);
    expect(agent.child.exitCode).toBeNull();
  });

  it('answers bad frames with error codes or a close, and never crashes', async () => {
    const { peer, agent } = await setup();
    await peer.waitFor('credential_ack');
    let since = peer.mark();
    peer.sendRaw('{not json');
    expect((await peer.waitFor('error', undefined, since)).code).toBe(AGENT_ERROR_CODES.invalidJson);
    since = peer.mark();
    peer.sendRaw(JSON.stringify({ type: 'command', v: 1, commandId: 7, commandType: 'start' }));
    expect((await peer.waitFor('error', undefined, since)).code).toBe(AGENT_ERROR_CODES.invalidMessage);
    since = peer.mark();
    peer.sendRaw(JSON.stringify({ type: 'self_destruct', v: 1 }));
    expect((await peer.waitFor('error', undefined, since)).code).toBe(AGENT_ERROR_CODES.unknownType);
    since = peer.mark();
    peer.sendRaw(JSON.stringify({ type: 'command', v: 1, commandId: '../../etc', toolInstanceId: '../x', generation: 1, commandType: 'start', payload: {} }));
    expect((await peer.waitFor('error', undefined, since)).code).toBe(AGENT_ERROR_CODES.invalidMessage);

    // Oversized frame: ws closes with 1009; the agent reconnects.
    since = peer.mark();
    const closes = peer.closes.length;
    peer.sendRaw('x'.repeat(MAX_FRAME_BYTES + 10));
    await expect.poll(() => peer.closes.length, { timeout: 20_000 }).toBeGreaterThan(closes);
    expect(peer.closes.at(-1)!.code).toBe(CLOSE_CODES.messageTooBig);
    await peer.waitFor('hello', undefined, since);

    // Unsupported version: close 4003.
    since = peer.mark();
    peer.sendRaw(JSON.stringify({ type: 'welcome', v: 99 }));
    await expect.poll(() => peer.closes.at(-1)?.code, { timeout: 20_000 }).toBe(CLOSE_CODES.versionUnsupported);
    await peer.waitFor('hello', undefined, since);

    // A flood: the agent closes with 4008 (rate limited), then reconnects.
    since = peer.mark();
    for (let i = 0; i < 5000; i += 1) peer.sendRaw(JSON.stringify({ type: 'request_inventory', v: 1 }));
    await expect.poll(() => peer.closes.some((c) => c.code === CLOSE_CODES.rateLimited), { timeout: 20_000 }).toBe(true);
    await peer.waitFor('hello', undefined, since);

    // Still alive and still answering commands.
    const result = await peer.command({ commandType: 'get_logs', toolInstanceId: 'nope', generation: 1, payload: {} });
    expect(result.status).toBe('failed');
    expect(result.error?.code).toBe(AGENT_ERROR_CODES.unknownTool);
    expect(agent.child.exitCode).toBeNull();
  });

  it('closes with 4002 after too many invalid frames', async () => {
    const { peer } = await setup();
    await peer.waitFor('credential_ack');
    const since = peer.mark();
    for (let i = 0; i < 30; i += 1) peer.sendRaw('nope');
    await expect.poll(() => peer.closes.some((c) => c.code === CLOSE_CODES.protocolError), { timeout: 20_000 }).toBe(true);
    await peer.waitFor('hello', undefined, since);
  });

  it('stops gracefully on SIGTERM with a normal close', async () => {
    const { peer, agent } = await setup();
    await peer.waitFor('hello');
    const exit = await agent.kill('SIGTERM');
    expect(exit.code).toBe(0);
    await expect.poll(() => peer.closes.at(-1)?.code, { timeout: 10_000 }).toBe(CLOSE_CODES.normal);
  });

  it('refuses a config with plain ws:// to a remote host, naming the field', async () => {
    const agent = startAgentProcess(testConfig({ controllerUrl: 'ws://controller.example.com/agent/v1', enrollmentToken: 'x'.repeat(20) }));
    cleanups.push(() => agent.kill('SIGKILL'));
    const exit = await agent.exited;
    expect(exit.code).toBe(1);
    expect(agent.log.join('\n')).toContain('controllerUrl: plain ws:// is only allowed on loopback');
  });
});
