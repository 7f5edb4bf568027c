/**
 * The tools reconciler on a real database, one reconcile at a time through the loop runner:
 * the endpoints it stores are where the agent platform reaches a tool (a loopback or
 * wildcard bind at the droplet's public address), and once the droplet is gone what its
 * agent last reported is forgotten (the tool rows stay: the toolbelt outlives the droplet).
 */
import { createToolsReconciler, TOOLS_KIND } from '@toolbelt/reconcilers';
import {
  createManualClock,
  getToolInstance,
  listToolObservations,
  recordAgentConnected,
  recordAgentHello,
  updateEnvironmentStatus,
  upsertToolObservation,
} from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { Registry } from 'prom-client';
import { afterEach, expect, it } from 'vitest';
import { LoopRunner } from '../../src/loop/runner.ts';
import { enrolledEnvironment, makeTool } from '../support/rows.ts';
import { toolReport } from '../support/test-agent.ts';
import { captureLogger } from '../support/loop.ts';

const runners: LoopRunner[] = [];
afterEach(async () => {
  for (const runner of runners.splice(0)) await runner.stop();
});

describeEachDatabase('tools reconciler: endpoints and a droplet that is gone', (t) => {
  it("stores endpoints at the droplet's public address and forgets the reports of a deleted droplet", async () => {
    const runner = new LoopRunner({ db: t.db, logger: captureLogger().logger, clock: createManualClock(), registry: new Registry(), reconcilers: [createToolsReconciler()] });
    runners.push(runner);
    const { env, credentialId } = await enrolledEnvironment(t.db);
    const tool = await makeTool(t.db, env.id);
    await updateEnvironmentStatus(t.db, env.id, { status: 'active', droplet_id: 424242, ip_address: '203.0.113.9' });
    await recordAgentConnected(t.db, { environmentId: env.id, replicaId: 'r1', connectionId: 'c1', credentialId, at: new Date() });
    await recordAgentHello(t.db, { environmentId: env.id, connectionId: 'c1', at: new Date(), hello: { agentVersion: '1', protocolVersion: 1, hostname: 'h', runtimes: ['docker'] } });
    const bound = (host: string) => ({ host, port: 18766, path: '/mcp', transport: 'mcp-http' as const });
    await upsertToolObservation(t.db, env.id, { ...toolReport(tool.id, 'running'), endpoints: [bound('127.0.0.1'), bound('10.108.0.3')] }, new Date());

    expect((await runner.reconcileOnce(TOOLS_KIND, env.id)).outcome).toBe('success');
    expect((await getToolInstance(t.db, tool.id))?.endpoints).toEqual([bound('203.0.113.9'), bound('10.108.0.3')]);

    // DigitalOcean confirmed the droplet gone: no endpoint, no reports, the row stays.
    await updateEnvironmentStatus(t.db, env.id, { status: 'deleted', droplet_id: null, ip_address: null });
    expect((await runner.reconcileOnce(TOOLS_KIND, env.id)).outcome).toBe('success');
    expect(await listToolObservations(t.db, env.id)).toEqual([]);
    expect((await getToolInstance(t.db, tool.id))?.endpoints).toEqual([]);
  });
});
