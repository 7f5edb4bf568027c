/**
 * The droplet lifecycle end to end in one process: the real loop runner, reconcilers,
 * provider, fleet sweep and create batcher against the simulator over HTTP, on PGlite and
 * Postgres. Enable → one active droplet per agent; disable → all gone; drift repaired;
 * orphans collected; the firewall kept; quota refusals reported without a retry storm.
 */
import { getEnvironment, type Db, dropletCredentials, hashToken, listEnvironments, listEvents, requestAgentDeletion, getAgent } from '@toolbelt/schema';
import { extractAgentBootstrap } from '@toolbelt/schema/cloud-init';
import { describeEachDatabase, truncateAll } from '@toolbelt/schema/testing';
import { createProvider } from '@toolbelt/reconcilers';
import { eq } from 'drizzle-orm';
import { afterEach, expect, it } from 'vitest';
import { eventsOf, type Harness, seedAgents, setActive, startHarness } from './harness.ts';
import { eventually } from '../support/eventually.ts';

let harness: Harness | undefined;

async function statuses(db: Db): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const env of await listEnvironments(db, { limit: 10_000 })) counts[env.status] = (counts[env.status] ?? 0) + 1;
  return counts;
}

/** Droplets in the simulator by name. */
function dropletsByName(h: Harness): Map<string, number> {
  const counts = new Map<string, number>();
  for (const d of h.sim.state.listDroplets()) counts.set(d.name, (counts.get(d.name) ?? 0) + 1);
  return counts;
}

describeEachDatabase('droplet lifecycle', (t) => {
  afterEach(async () => {
    await harness?.stop();
    harness = undefined;
    await truncateAll(t.db);
  });

  it('50 environments enabled at once: one active droplet each, each created once; disabled: all gone, rows kept', async () => {
    // Every droplet deleted, by name: while all are enabled, none may be (a duplicate create would be collected).
    const deleted: string[] = [];
    const h = (harness = await startHarness({ db: t.db, simulator: { onDelete: (d) => void deleted.push(d.name) } }));
    const seeded = await seedAgents(t.db, 50, 'fifty', false);
    await setActive(t.db, h.runner, seeded.map((s) => s.agentId), true);
    await eventually(
      async () => (await statuses(t.db)).active === 50,
      async () => JSON.stringify(await statuses(t.db)),
    );
    const droplets = h.sim.state.listDroplets();
    expect(droplets).toHaveLength(50);
    expect(new Set(droplets.map((d) => d.name))).toEqual(new Set(seeded.map((s) => `tb-${s.envId}`)));
    expect(droplets.every((d) => d.status === 'active' && d.tags.includes('toolbelt'))).toBe(true);
    for (const { envId } of seeded) {
      const env = await getEnvironment(t.db, envId);
      const droplet = droplets.find((d) => d.name === `tb-${envId}`)!;
      expect(env).toMatchObject({ droplet_id: droplet.id, ip_address: droplet.publicIp, observed_generation: env!.generation });
      expect(env!.conditions.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True' });
    }
    // Each environment was created exactly once: 50 droplets of 50 names, and none deleted on
    // the way. (How many requests carried them depends on how the batch window fell on this
    // machine's timing; the batcher's own tests hold its arithmetic.)
    expect(deleted).toEqual([]);
    expect(h.sim.stats.rateLimited).toBe(0);
    const first = await eventsOf(t.db, 'environment', seeded[0]!.agentId);
    expect(first.map((e) => e.reason)).toEqual(['Creating', 'DropletCreated', 'Ready']);
    // Each droplet's user_data carries one enrollment token bound to it (and to its batch only).
    const some = droplets[0]!;
    const token = extractAgentBootstrap(some.userData ?? '')?.config.enrollmentToken as string | undefined;
    expect(token).toMatch(/^tbe1_/);
    const bound = await t.db.select().from(dropletCredentials).where(eq(dropletCredentials.token_hash, hashToken(token!)));
    expect(bound.length).toBeGreaterThanOrEqual(1);
    expect(bound.length).toBeLessThanOrEqual(10);
    expect(bound.map((b) => b.agent_droplet_id)).toContain(some.name.slice(3));

    await setActive(t.db, h.runner, seeded.map((s) => s.agentId), false);
    await eventually(
      async () => (await statuses(t.db)).deleted === 50,
      async () => JSON.stringify(await statuses(t.db)),
    );
    expect(h.sim.state.listDroplets()).toEqual([]);
    const revoked = await t.db.select().from(dropletCredentials).where(eq(dropletCredentials.agent_droplet_id, seeded[0]!.envId));
    expect(revoked.every((c) => c.revoked_at !== null || c.used_at !== null)).toBe(true);
    const last = await eventsOf(t.db, 'environment', seeded[0]!.agentId);
    expect(last.map((e) => e.reason).slice(-2)).toEqual(['Deleting', 'DropletDeleted']);
    expect(h.warnings.filter((w) => (w.level as number) >= 50)).toEqual([]);
  });

  it('puts TOOLBELT_SSH_KEYS on every droplet it creates', async () => {
    const h = (harness = await startHarness({ db: t.db, env: { TOOLBELT_SSH_KEYS: '512190,3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa' } }));
    const seeded = await seedAgents(t.db, 2, 'keyed', false);
    await setActive(t.db, h.runner, seeded.map((s) => s.agentId), true);
    await eventually(
      async () => h.sim.state.listDroplets().length === 2,
      async () => JSON.stringify(await statuses(t.db)),
    );
    for (const droplet of h.sim.state.listDroplets()) expect(droplet.sshKeys).toEqual([512190, '3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa']);
  });

  it('repairs drift: a droplet deleted by hand is recreated, one powered off is powered on', async () => {
    const h = (harness = await startHarness({ db: t.db }));
    const [a, b] = await seedAgents(t.db, 2, 'drift');
    await setActive(t.db, h.runner, [a!.agentId, b!.agentId], true);
    await eventually(
      async () => (await statuses(t.db)).active === 2,
      async () => JSON.stringify(await statuses(t.db)),
    );
    const before = (await getEnvironment(t.db, a!.envId))!.droplet_id!;
    h.sim.state.vanish(before);
    const off = (await getEnvironment(t.db, b!.envId))!.droplet_id!;
    h.sim.state.setStatus(off, 'off');
    await eventually(
      async () => {
        const env = await getEnvironment(t.db, a!.envId);
        return env!.status === 'active' && env!.droplet_id !== before && h.sim.state.getDroplet(off)?.status === 'active';
      },
      async () => JSON.stringify({ a: await getEnvironment(t.db, a!.envId), off: h.sim.state.getDroplet(off) }),
    );
    expect(dropletsByName(h).get(`tb-${a!.envId}`)).toBe(1);
    const reasonsA = (await eventsOf(t.db, 'environment', a!.agentId)).map((e) => e.reason);
    expect(reasonsA).toContain('DropletVanished');
    const reasonsB = (await eventsOf(t.db, 'environment', b!.agentId)).map((e) => e.reason);
    expect(reasonsB).toContain('PoweringOn');
    expect((await getEnvironment(t.db, b!.envId))!.droplet_id).toBe(off);
  });

  it('adopts a droplet of its name instead of creating a second one', async () => {
    const [a] = await seedAgents(t.db, 1, 'adopt');
    let made: number | undefined;
    const h = (harness = await startHarness({
      db: t.db,
      // As if an earlier controller created it and died before writing anything down.
      prepare: async (sim) => {
        const provider = createProvider({ token: sim.token, apiUrl: sim.url });
        const [droplet] = await provider.createDroplets([`tb-${a!.envId}`], { region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64', tags: ['toolbelt'] });
        provider.close();
        made = droplet!.id;
      },
    }));
    h.runner.enqueue('environment', a!.agentId);
    await eventually(
      async () => (await getEnvironment(t.db, a!.envId))!.status === 'active',
      async () => JSON.stringify(await getEnvironment(t.db, a!.envId)),
    );
    expect((await getEnvironment(t.db, a!.envId))!.droplet_id).toBe(made);
    expect(h.sim.state.listDroplets()).toHaveLength(1);
    expect(h.sim.stats.calls('POST', '/v2/droplets')).toBe(1);
    expect((await eventsOf(t.db, 'environment', a!.agentId)).map((e) => e.reason)).toEqual(['Adopted', 'Ready']);
  });

  it('deletes a deleted agent once its droplet is confirmed gone', async () => {
    const h = (harness = await startHarness({ db: t.db }));
    const [a] = await seedAgents(t.db, 1, 'bye');
    h.runner.enqueue('environment', a!.agentId);
    await eventually(
      async () => (await getEnvironment(t.db, a!.envId))?.status === 'active',
      () => 'not active',
    );
    await requestAgentDeletion(t.db, a!.agentId);
    h.runner.enqueue('environment', a!.agentId);
    await eventually(
      async () => (await getAgent(t.db, a!.agentId)) === undefined,
      async () => JSON.stringify(await getEnvironment(t.db, a!.envId)),
    );
    expect(h.sim.state.listDroplets()).toEqual([]);
    expect((await eventsOf(t.db, 'environment', a!.agentId)).map((e) => e.reason)).toEqual(
      expect.arrayContaining(['Deleting', 'DropletDeleted', 'AgentRemoved']),
    );
  });

  it('reports the droplet limit as a condition and an event, without a retry storm', async () => {
    const h = (harness = await startHarness({ db: t.db, env: { TOOLBELT_QUOTA_RETRY_MS: '600000' } }));
    h.sim.state.setDropletLimit(0);
    const seeded = await seedAgents(t.db, 3, 'quota');
    await setActive(t.db, h.runner, seeded.map((s) => s.agentId), true);
    await eventually(
      async () => (await statuses(t.db)).error === 3,
      async () => JSON.stringify(await statuses(t.db)),
    );
    const creates = h.sim.stats.calls('POST', '/v2/droplets');
    // Let sweeps and reconciles run a while: no further creates.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(h.sim.stats.calls('POST', '/v2/droplets')).toBe(creates);
    const env = await getEnvironment(t.db, seeded[0]!.envId);
    expect(env!.conditions.find((c) => c.type === 'Provisioned')).toMatchObject({ status: 'False', reason: 'QuotaExceeded' });
    const events = await eventsOf(t.db, 'environment', seeded[0]!.agentId);
    expect(events.filter((e) => e.reason === 'QuotaExceeded')).toHaveLength(1);
    expect(events.find((e) => e.reason === 'QuotaExceeded')!.message).toMatch(/droplet limit/);
  });

  it('never duplicates a droplet when create answers are lost', async () => {
    const h = (harness = await startHarness({ db: t.db }));
    h.sim.faults.add({ method: 'POST', path: '/v2/droplets', fault: { kind: 'loseAnswer' }, count: 3 });
    const seeded = await seedAgents(t.db, 12, 'lost');
    await setActive(t.db, h.runner, seeded.map((s) => s.agentId), true);
    await eventually(
      async () => (await statuses(t.db)).active === 12,
      async () => JSON.stringify(await statuses(t.db)),
    );
    const names = dropletsByName(h);
    expect(names.size).toBe(12);
    expect([...names.values()].every((n) => n === 1)).toBe(true);
    const reasons = (await listEvents(t.db, { objectKind: 'environment', limit: 500 })).map((e) => e.reason);
    expect(reasons).toContain('Adopted');
  });

  it('collects orphans after the grace, and only reports them in dry run', async () => {
    const h = (harness = await startHarness({ db: t.db }));
    const provider = createProvider({ token: h.sim.token, apiUrl: h.sim.url });
    const shared = { region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64', tags: ['toolbelt'] };
    const [orphan] = await provider.createDroplets(['tb-6f0c8f5e-6c0b-4a3e-9d7e-0a1b2c3d4e5f'], shared);
    const [stray] = await provider.createDroplets(['someone-elses'], shared);
    const [untagged] = await provider.createDroplets(['tb-7f0c8f5e-6c0b-4a3e-9d7e-0a1b2c3d4e5f'], { ...shared, tags: [] });
    provider.close();
    h.lifecycle.cache.requestSweep();
    const orphansDeleted = async () => (await listEvents(t.db, { objectKind: 'droplet', limit: 50 })).filter((e) => e.reason === 'OrphanDeleted');
    // The event follows the delete call: wait for both, however slow the machine.
    await eventually(
      async () => h.sim.state.getDroplet(orphan!.id) === undefined && h.sim.state.getDroplet(stray!.id) === undefined && (await orphansDeleted()).length >= 2,
      () => JSON.stringify(h.sim.state.listDroplets().map((d) => d.name)),
    );
    expect(h.sim.state.getDroplet(untagged!.id)).toBeDefined();
    const deleted = await listEvents(t.db, { objectKind: 'droplet', limit: 50 });
    expect(deleted.filter((e) => e.reason === 'OrphanDeleted').map((e) => e.object_id).sort()).toEqual([String(orphan!.id), String(stray!.id)].sort());
  });

  it('dry run: reports orphans and deletes nothing', async () => {
    const h = (harness = await startHarness({ db: t.db, env: { TOOLBELT_ORPHAN_DRY_RUN: 'true' } }));
    const provider = createProvider({ token: h.sim.token, apiUrl: h.sim.url });
    const [orphan] = await provider.createDroplets(['tb-8f0c8f5e-6c0b-4a3e-9d7e-0a1b2c3d4e5f'], { region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64', tags: ['toolbelt'] });
    provider.close();
    h.lifecycle.cache.requestSweep();
    await eventually(
      async () => (await listEvents(t.db, { objectKind: 'droplet', objectId: String(orphan!.id), limit: 10 })).some((e) => e.reason === 'OrphanWouldDelete'),
      () => 'no OrphanWouldDelete event',
    );
    expect(h.sim.state.getDroplet(orphan!.id)).toBeDefined();
  });

  it('keeps one fleet firewall: no inbound but SSH from admins and tool ports from tool sources; drift repaired', async () => {
    const h = (harness = await startHarness({ db: t.db, env: { TOOLBELT_ADMIN_CIDRS: '198.51.100.0/24', TOOLBELT_TOOL_SOURCE_CIDRS: '' } }));
    const provider = createProvider({ token: h.sim.token, apiUrl: h.sim.url });
    try {
      await eventually(
        async () => (await provider.listFirewalls()).some((f) => f.name === 'tb-fleet-toolbelt'),
        () => 'no firewall',
      );
      const [firewall] = (await provider.listFirewalls()).filter((f) => f.name === 'tb-fleet-toolbelt');
      expect(firewall!.tags).toEqual(['toolbelt']);
      expect(firewall!.inboundRules).toEqual([{ protocol: 'tcp', ports: '22', sources: { addresses: ['198.51.100.0/24'] } }]);
      expect(firewall!.outboundRules.map((r) => r.protocol).sort()).toEqual(['icmp', 'tcp', 'udp']);
      // Someone opens the firewall by hand; the next reconcile closes it again.
      await provider.ensureFirewall({ name: 'tb-fleet-toolbelt', tags: ['toolbelt'], inboundRules: [{ protocol: 'tcp', ports: '0', sources: { addresses: ['0.0.0.0/0'] } }], outboundRules: [] });
      h.runner.enqueue('firewall', 'tb-fleet-toolbelt');
      await eventually(
        async () => (await provider.listFirewalls()).find((f) => f.name === 'tb-fleet-toolbelt')!.inboundRules.length === 1 &&
          (await provider.listFirewalls()).find((f) => f.name === 'tb-fleet-toolbelt')!.inboundRules[0]!.ports === '22',
        () => 'not repaired',
      );
      const events = await listEvents(t.db, { objectKind: 'firewall', limit: 10 });
      expect(events.map((e) => e.reason).sort()).toEqual(['FirewallCreated', 'FirewallDriftRepaired']);
    } finally {
      provider.close();
    }
  });
});
