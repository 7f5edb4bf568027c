/**
 * The per-socket bounds of the hub, each on its own: the backlog of unhandled messages (in
 * messages and in bytes) closes with 4010, the byte budget with 4008, and inventories that
 * wait their turn are coalesced (only the latest is handled).
 */
import { AGENT_ERROR_CODES, CLOSE_CODES } from '@toolbelt/schema/protocol';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { expect, it } from 'vitest';
import { startTestHub } from '../support/hub.ts';
import { enrolledEnvironment } from '../support/rows.ts';
import { sampleMetrics, TestAgent, toolReport } from '../support/test-agent.ts';

describeEachDatabase('agent socket limits', (t) => {
  async function connected(receiveLimits: Parameters<typeof startTestHub>[1] extends infer O ? O extends { receiveLimits?: infer L } ? L : never : never) {
    const server = await startTestHub(t.database, { receiveLimits });
    const { credential } = await enrolledEnvironment(t.db);
    const agent = await TestAgent.connect(server.url, credential);
    return { server, agent };
  }

  const heartbeat = (seq: number) => ({ type: 'heartbeat' as const, agentVersion: '1', seq, metrics: sampleMetrics, toolCount: 0 });

  it('closes with 4010 when more messages wait than allowed, and drops them', async () => {
    const { server, agent } = await connected({ maxQueuedMessages: 3 });
    // The hello waits for the database; the heartbeats queue behind it.
    await agent.hello();
    for (let i = 0; i < 20; i += 1) agent.send(heartbeat(i));
    expect((await agent.closed).code).toBe(CLOSE_CODES.backlog);
    expect(server.hub.stats().backlogCloses).toBe(1);
    expect(server.hub.stats().heartbeatsReceived).toBeLessThanOrEqual(3);
    await server.stop();
  });

  it('closes with 4010 when more bytes wait than allowed', async () => {
    const { server, agent } = await connected({ maxQueuedBytes: 20_000 });
    await agent.hello({ inventory: Array.from({ length: 100 }, (_, i) => toolReport(`a-${i}`)) });
    agent.send({ type: 'inventory', inventory: Array.from({ length: 200 }, (_, i) => toolReport(`b-${i}`)) });
    expect((await agent.closed).code).toBe(CLOSE_CODES.backlog);
    await server.stop();
  });

  it('closes with 4008 when the byte budget runs out', async () => {
    const { server, agent } = await connected({ bytesPerSecond: 1_000, burstBytes: 30_000 });
    const inventory = Array.from({ length: 100 }, (_, i) => toolReport(`c-${i}`));
    await agent.hello();
    for (let i = 0; i < 5; i += 1) agent.send({ type: 'inventory', inventory });
    const error = await agent.next('error');
    expect(error.code).toBe(AGENT_ERROR_CODES.rateLimited);
    expect((await agent.closed).code).toBe(CLOSE_CODES.rateLimited);
    await server.stop();
  });

  it('handles only the latest of the inventories that wait their turn', async () => {
    const { server, agent } = await connected({});
    await agent.hello();
    for (let n = 0; n < 20; n += 1) agent.send({ type: 'inventory', inventory: Array.from({ length: 20 }, (_, i) => toolReport(`inv${n}-${i}`)) });
    await agent.settled();
    expect(server.hub.stats().inventoriesCoalesced).toBeGreaterThan(0);
    expect(agent.socket.readyState).toBe(agent.socket.OPEN);
    await server.stop();
  });
});
