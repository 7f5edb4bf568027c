/**
 * Every provider operation against the simulator over real HTTP (no mocked axios).
 */
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { type Clock, createScaledClock } from '@toolbelt/schema';
import { type Simulator, startSimulator } from '@toolbelt/simulator';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type FirewallSpec,
  type Provider,
  ProviderError,
  checkDropletSpec,
  costOf,
  createProvider,
  dropletNameFor,
  identityOf,
  identityTagsFor,
  isProviderError,
} from '../../src/index.ts';
import { expectNoLeakedSockets, openTcpHandles } from './net-helpers.ts';

const SHARED = { region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64' };

describe('provider operations against the simulator', () => {
  let clock: Clock;
  let sim: Simulator;
  let provider: Provider;
  const fleetTag = 'toolbelt-ops';

  let baseline = 0;

  beforeAll(async () => {
    baseline = openTcpHandles();
    clock = createScaledClock(50);
    sim = await startSimulator({ clock, bootDelayMs: { minMs: 1000, maxMs: 3000 }, actionDurationMs: 1000, rateLimit: false, seed: 7 });
    provider = createProvider({ token: sim.token, apiUrl: sim.url, clock, requestTimeoutMs: 5000 });
  });
  afterAll(async () => {
    provider.close();
    await sim.close();
    await expectNoLeakedSockets(baseline);
  });
  afterEach(() => sim.faults.clear());

  /** Sweeps until every listed droplet is active (simulated time, bounded). */
  async function untilActive(tag: string, count: number) {
    for (let i = 0; i < 200; i += 1) {
      const fleet = await provider.listFleet(tag);
      if (fleet.length === count && fleet.every((d) => d.status === 'active')) return fleet;
      await clock.sleep(1000);
    }
    throw new Error(`droplets of ${tag} did not all become active`);
  }

  it('creates one droplet with its identity, and finds it in the fleet by that identity', async () => {
    const envId = randomUUID();
    const created = await provider.createDroplet({ name: dropletNameFor(envId), ...SHARED, tags: identityTagsFor(envId, fleetTag), userData: '#cloud-config\n' });
    expect(created).toMatchObject({ name: `tb-${envId}`, status: 'new', region: 'nyc3', size: 's-1vcpu-1gb' });
    expect(created.id).toBeGreaterThan(0);
    const fleet = await untilActive(fleetTag, 1);
    expect(fleet.map(identityOf)).toEqual([envId]);
    expect(fleet[0]!.publicIpv4).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(await provider.getDroplet(created.id)).toMatchObject({ id: created.id, status: 'active' });
  });

  it('creates ten droplets in one request and reads their identities from the names', async () => {
    const tag = `batch-${Date.now()}`;
    const envIds = Array.from({ length: 10 }, () => randomUUID());
    const before = sim.stats.calls('POST', '/v2/droplets');
    const created = await provider.createDroplets(envIds.map(dropletNameFor), { ...SHARED, tags: [tag] });
    expect(sim.stats.calls('POST', '/v2/droplets') - before).toBe(1);
    expect(created.map(identityOf).sort()).toEqual([...envIds].sort());
    const fleet = await provider.listFleet(tag);
    expect(fleet.map(identityOf).sort()).toEqual([...envIds].sort());
  });

  it('sweeps a fleet across pages of 200 in one call per page', async () => {
    const tag = `big-${Date.now()}`;
    for (let i = 0; i < 45; i += 1) {
      await provider.createDroplets(Array.from({ length: 10 }, (_, j) => `big-${i}-${j}`), { ...SHARED, tags: [tag] });
    }
    const before = sim.stats.calls('GET', '/v2/droplets');
    const fleet = await provider.listFleet(tag);
    expect(fleet).toHaveLength(450);
    expect(new Set(fleet.map((d) => d.id)).size).toBe(450);
    expect(sim.stats.calls('GET', '/v2/droplets') - before).toBe(3);
  });

  it('answers undefined for a droplet DigitalOcean does not know', async () => {
    expect(await provider.getDroplet(987654321)).toBeUndefined();
  });

  it('deletes a droplet, and says already_gone the second time', async () => {
    const [droplet] = await provider.createDroplets(['to-delete-1'], { ...SHARED, tags: ['del-test'] });
    expect(await provider.deleteDroplet(droplet!.id)).toBe('deleted');
    expect(await provider.deleteDroplet(droplet!.id)).toBe('already_gone');
    expect(await provider.getDroplet(droplet!.id)).toBeUndefined();
  });

  it('powers a droplet off and on', async () => {
    const tag = `power-${Date.now()}`;
    await provider.createDroplets(['power-1'], { ...SHARED, tags: [tag] });
    const [droplet] = await untilActive(tag, 1);
    const off = await provider.powerAction(droplet!.id, 'power_off');
    expect(off).toMatchObject({ type: 'power_off', status: 'in-progress', resourceId: droplet!.id });
    await clock.sleep(2000);
    expect((await provider.getDroplet(droplet!.id))?.status).toBe('off');
    await provider.powerAction(droplet!.id, 'power_on');
    await clock.sleep(2000);
    expect((await provider.getDroplet(droplet!.id))?.status).toBe('active');
  });

  it('tags droplets with a tag DigitalOcean does not know yet', async () => {
    const [droplet] = await provider.createDroplets(['tag-me-1'], { ...SHARED, tags: ['tag-test'] });
    const tag = `late-tag:${Date.now()}`;
    await provider.tagResources(tag, [droplet!.id]);
    expect((await provider.listFleet(tag)).map((d) => d.id)).toEqual([droplet!.id]);
    await provider.tagResources(tag, [droplet!.id]); // again: harmless
    expect((await provider.getDroplet(droplet!.id))?.tags).toContain(tag);
  });

  it('ensures a firewall: created, then unchanged, then updated', async () => {
    const spec: FirewallSpec = {
      name: 'toolbelt-fleet-fw',
      inboundRules: [{ protocol: 'tcp', ports: '22', sources: { addresses: ['10.0.0.0/8'] } }],
      outboundRules: [
        { protocol: 'tcp', ports: 'all', destinations: { addresses: ['0.0.0.0/0', '::/0'] } },
        { protocol: 'udp', ports: '53', destinations: { addresses: ['0.0.0.0/0', '::/0'] } },
      ],
      tags: [fleetTag],
    };
    const first = await provider.ensureFirewall(spec);
    expect(first.action).toBe('created');
    expect(first.firewall).toMatchObject({ name: spec.name, tags: [fleetTag] });
    expect((await provider.ensureFirewall(spec)).action).toBe('unchanged');
    const changed = { ...spec, inboundRules: [{ protocol: 'tcp' as const, ports: '443', sources: { addresses: ['0.0.0.0/0'] } }] };
    const updated = await provider.ensureFirewall(changed);
    expect(updated.action).toBe('updated');
    expect(updated.firewall.id).toBe(first.firewall.id);
    expect((await provider.ensureFirewall(changed)).action).toBe('unchanged');
    expect((await provider.listFirewalls()).filter((f) => f.name === spec.name)).toHaveLength(1);
  });

  it('lists sizes, regions and images, checks a spec against them and prices it', async () => {
    const [sizes, regions, images, account] = await Promise.all([provider.listSizes(), provider.listRegions(), provider.listImages(), provider.getAccount()]);
    expect(sizes.length).toBeGreaterThan(0);
    expect(regions.map((r) => r.slug)).toContain('nyc3');
    expect(images.length).toBeGreaterThan(0);
    expect(account.dropletLimit).toBeGreaterThan(0);
    const offer = { sizes, regions, images };
    expect(checkDropletSpec(SHARED, offer)).toEqual([]);
    expect(checkDropletSpec({ ...SHARED, size: 'no-such-size' }, offer).map((p) => p.field)).toEqual(['size']);
    expect(costOf('s-1vcpu-1gb', sizes)?.monthly).toBeGreaterThan(0);
  });

  it('refuses bad input before sending anything', async () => {
    const before = sim.stats.total;
    const refusals = [
      provider.createDroplets([], SHARED),
      provider.createDroplets(Array.from({ length: 11 }, (_, i) => `n${i}`), SHARED),
      provider.createDroplet({ name: 'bad_name', ...SHARED }),
      provider.createDroplet({ name: 'ok', ...SHARED, tags: ['no spaces'] }),
      provider.listFleet('bad tag'),
      provider.tagResources('t', []),
    ];
    for (const refused of refusals) {
      const error = await refused.catch((e: unknown) => e);
      expect(isProviderError(error, 'validation')).toBe(true);
      expect((error as ProviderError).attempts).toBe(0);
    }
    expect(sim.stats.total).toBe(before);
  });

  it('reports DigitalOcean’s refusal of a bad size as validation, with its request id', async () => {
    const error = await provider.createDroplet({ name: 'bad-size', ...SHARED, size: 'no-such-size' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ kind: 'validation', status: 422, attempts: 1, outcomeUnknown: false });
    expect((error as ProviderError).requestId).toBeTruthy();
  });

  it('reports the droplet limit as quota', async () => {
    const limit = sim.state.getDropletLimit();
    sim.state.setDropletLimit(sim.state.listDroplets().length + 1);
    try {
      const error = await provider.createDroplets(['quota-1', 'quota-2'], SHARED).catch((e: unknown) => e);
      expect(error).toMatchObject({ kind: 'quota', code: 'DO_ERR_QUOTA', attempts: 1 });
    } finally {
      sim.state.setDropletLimit(limit);
    }
  });

  it('reports a wrong token as auth, once, and never shows the token', async () => {
    const secret = 'dop_v1_wrong_token_that_must_not_leak';
    const logs: unknown[] = [];
    const wrong = createProvider({ token: secret, apiUrl: sim.url, clock, logger: { warn: (f, m) => logs.push([f, m]) } });
    try {
      const error = await wrong.listFleet(fleetTag).catch((e: unknown) => e);
      expect(error).toMatchObject({ kind: 'auth', status: 401, attempts: 1 });
      expect(inspect(error, { depth: 20 })).not.toContain(secret);
      expect(JSON.stringify(logs)).not.toContain(secret);
      expect(wrong.stats().requests).toBe(1);
    } finally {
      wrong.close();
    }
  });

  it('counts calls per endpoint and status', () => {
    const stats = provider.stats();
    const get = stats.byEndpoint.find((e) => e.endpoint === 'GET /v2/droplets/{id}' && e.outcome === 404);
    expect(get?.count).toBeGreaterThan(0);
    expect(stats.requests).toBe(stats.byEndpoint.reduce((n, e) => n + e.count, 0));
    expect(stats.budget.hour.ceiling).toBeGreaterThan(0);
  });
});
