/**
 * Two controller replicas (two hubs, each with its own HTTP server and database pool) on
 * one real Postgres: a command issued on one reaches the agent on the other, a newer
 * connection on one replaces the older on the other, and revocation reaches whichever
 * replica holds the socket. PGlite is one session in one process, so this runs on Postgres.
 */
import { revokeDropletCredentials } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { CLOSE_CODES } from '@toolbelt/schema/protocol';
import { expect } from 'vitest';
import { commandOutcome, enqueued, finalCommand } from '../support/commands.ts';
import { onPostgres, openPool } from '../support/databases.ts';
import { startTestHub } from '../support/hub.ts';
import { enrolledEnvironment } from '../support/rows.ts';
import { TestAgent } from '../support/test-agent.ts';

describeEachDatabase('agent hub across replicas', (t) => {
  const onPg = onPostgres(t, 'two replicas need two database sessions; PGlite is one');

  async function twoReplicas() {
    const second = await openPool({ url: t.url!, maxConnections: 4 });
    const a = await startTestHub(t.database, { replicaId: 'replica-a' });
    const b = await startTestHub(second, { replicaId: 'replica-b' });
    return { a, b, bDb: second.db, stop: async () => (await Promise.all([a.stop(), b.stop()]), await second.close()) };
  }

  onPg('routes a command issued on one replica to the agent held by the other, and the answer back', async () => {
    const { a, b, bDb, stop } = await twoReplicas();
    const { env, credential } = await enrolledEnvironment(t.db);
    const agent = await TestAgent.connect(a.url, credential);
    await agent.hello();
    await expect.poll(() => a.hub.isConnected(env.id)).toBe(true);
    expect(b.hub.isConnected(env.id)).toBe(false);

    // Written through replica b's pool, as a reconciler on b would.
    const pending = await enqueued(bDb, { environmentId: env.id, commandType: 'start', toolInstanceId: 'tool-1', generation: 2 });
    const command = await agent.next('command');
    expect(command).toMatchObject({ commandType: 'start', toolInstanceId: 'tool-1', generation: 2 });
    agent.send({ type: 'command_result', commandId: command.commandId, status: 'accepted' });
    agent.send({ type: 'command_result', commandId: command.commandId, status: 'done', message: 'ok' });
    const done = await finalCommand(bDb, pending.id);
    expect(done).toMatchObject({ id: command.commandId, status: 'done', sent_by: 'replica-a', result: { message: 'ok' } });
    expect(a.hub.stats().commandsSent).toBe(1);
    expect(b.hub.stats().commandsSent).toBe(0);
    await stop();
  });

  onPg('closes the older socket on the other replica when the agent reconnects elsewhere', async () => {
    const { a, b, stop } = await twoReplicas();
    const { env, credential } = await enrolledEnvironment(t.db);
    const old = await TestAgent.connect(a.url, credential);
    await old.hello();
    await expect.poll(() => a.hub.isConnected(env.id)).toBe(true);
    const fresh = await TestAgent.connect(b.url, credential);
    await fresh.hello();
    expect((await old.closed).code).toBe(CLOSE_CODES.replaced);
    await expect.poll(() => b.hub.isConnected(env.id)).toBe(true);
    expect(a.hub.isConnected(env.id)).toBe(false);
    await stop();
  });

  onPg('closes the socket on whichever replica holds it when the droplet is de-provisioned', async () => {
    const { b, stop } = await twoReplicas();
    const { env, credential } = await enrolledEnvironment(t.db);
    const agent = await TestAgent.connect(b.url, credential);
    await agent.hello();
    await expect.poll(() => b.hub.isConnected(env.id)).toBe(true);
    // The lifecycle reconciler revokes through the other replica's pool.
    await revokeDropletCredentials(t.db, env.id);
    expect((await agent.closed).code).toBe(CLOSE_CODES.revoked);
    await stop();
  });

  onPg('times out a command for an agent no replica holds, once, though both sweep', async () => {
    const { a, b, stop } = await twoReplicas();
    const { env } = await enrolledEnvironment(t.db);
    const outcome = await commandOutcome(t.db, { environmentId: env.id, commandType: 'stop', toolInstanceId: 'x', generation: 1, timeoutMs: 200 });
    expect(outcome.status).toBe('timed_out');
    await expect.poll(() => a.hub.stats().commandsTimedOut + b.hub.stats().commandsTimedOut).toBe(1);
    // …and stays 1: the other sweep finds nothing left to time out.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(a.hub.stats().commandsTimedOut + b.hub.stats().commandsTimedOut).toBe(1);
    await stop();
  });
});
