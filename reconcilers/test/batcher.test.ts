/**
 * The create batcher against the simulator over HTTP: batches of up to 10 names per
 * placement, adoption instead of creation when a sweep already lists the name, lost answers
 * reported as unknown (never re-sent), refusals sorted into quota / invalid / retry, nothing
 * sent once stopped.
 */
import { systemClock } from '@toolbelt/schema';
import { type Simulator, startSimulator } from '@toolbelt/simulator';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CreateBatcher, type CreateOutcome, createProvider, FleetCache, type Provider, type WakeTarget } from '../src/index.ts';

let sim: Simulator;
let provider: Provider;
let batcher: CreateBatcher | undefined;

beforeEach(async () => {
  sim = await startSimulator({ bootDelayMs: 100 });
  provider = createProvider({ token: sim.token, apiUrl: sim.url });
});
afterEach(async () => {
  await batcher?.stop();
  batcher = undefined;
  provider.close();
  await sim.close();
});

const id = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const NYC = { region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64' };

function setup(options: { windowMs?: number; maxWaitMs?: number } = {}) {
  const fleet = new FleetCache({ clock: systemClock, settleMs: 0 });
  const settled: WakeTarget[] = [];
  const userDataFor: string[][] = [];
  let waiters: (() => void)[] = [];
  const b = new CreateBatcher({
    provider,
    fleet,
    clock: systemClock,
    tags: ['toolbelt'],
    windowMs: options.windowMs ?? 30,
    maxWaitMs: options.maxWaitMs ?? 5_000,
    userData: async (envIds) => {
      userDataFor.push([...envIds]);
      return `#cloud-config\n# batch of ${envIds.length}\n`;
    },
    onSettled: (target) => {
      settled.push(target);
      for (const w of waiters) w();
      waiters = [];
    },
  });
  b.start();
  batcher = b;
  const until = async (n: number) => {
    while (settled.length < n) await new Promise<void>((r) => waiters.push(r));
  };
  return { fleet, batcher: b, settled, userDataFor, until };
}

const request = (i: number, placement = NYC) => ({ envId: id(i), wake: { kind: 'environment', key: `agent-${i}` }, placement });

describe('create batcher', () => {
  it('sends 23 requests of one placement as 3 creates (10, 10, 3) and 2 of another as 1', async () => {
    const { batcher, settled, userDataFor, until } = setup();
    for (let i = 0; i < 23; i += 1) expect(batcher.submit(request(i))).toBe(true);
    for (let i = 23; i < 25; i += 1) batcher.submit(request(i, { ...NYC, region: 'ams3' }));
    expect(batcher.submit(request(0))).toBe(false); // already queued
    await until(25);
    expect(sim.stats.calls('POST', '/v2/droplets')).toBe(4);
    expect(userDataFor.map((b) => b.length).sort((a, b) => a - b)).toEqual([2, 3, 10, 10]);
    const droplets = sim.state.listDroplets();
    expect(droplets).toHaveLength(25);
    expect(droplets.filter((d) => d.region === 'ams3').map((d) => d.name).sort()).toEqual([`tb-${id(23)}`, `tb-${id(24)}`]);
    expect(droplets.every((d) => d.tags.join() === 'toolbelt' && d.userData?.startsWith('#cloud-config'))).toBe(true);
    expect(new Set(settled.map((s) => s.key)).size).toBe(25);
    const outcome = batcher.outcome(id(0)) as Extract<CreateOutcome, { phase: 'created' }>;
    expect(outcome.phase).toBe('created');
    expect(outcome.batchSize).toBe(10);
    batcher.forget(id(0));
    expect(batcher.outcome(id(0))).toBeUndefined();
  });

  it('adopts instead of creating when the latest sweep lists the name', async () => {
    const { batcher, fleet, until } = setup();
    const [existing] = await provider.createDroplets([`tb-${id(1)}`], { ...NYC, tags: ['toolbelt'] });
    fleet.publish(await provider.listFleet('toolbelt'), fleet.beginSweep());
    sim.stats.reset();
    batcher.submit(request(1));
    batcher.submit(request(2));
    await until(2);
    expect(batcher.outcome(id(1))).toMatchObject({ phase: 'exists', droplet: { id: existing!.id } });
    expect(batcher.outcome(id(2))).toMatchObject({ phase: 'created' });
    expect(sim.stats.calls('POST', '/v2/droplets')).toBe(1);
    expect(sim.state.listDroplets()).toHaveLength(2);
  });

  it('reports a lost answer as unknown, distrusts sweeps, and does not send it again', async () => {
    const { batcher, fleet, until } = setup();
    fleet.publish([], fleet.beginSweep());
    sim.faults.add({ method: 'POST', path: '/v2/droplets', fault: { kind: 'loseAnswer' }, count: 1 });
    batcher.submit(request(1));
    await until(1);
    expect(batcher.outcome(id(1))!.phase).toBe('unknown');
    expect(fleet.observe(id(1))!.authoritative).toBe(false);
    expect(sim.stats.calls('POST', '/v2/droplets')).toBe(1);
    expect(sim.state.listDroplets()).toHaveLength(1); // it did act
  });

  it('sorts refusals: the droplet limit is quota, a bad size invalid', async () => {
    const { batcher, until } = setup();
    sim.state.setDropletLimit(0);
    batcher.submit(request(1));
    await until(1);
    expect(batcher.outcome(id(1))).toMatchObject({ phase: 'failed', kind: 'quota' });
    sim.state.setDropletLimit(100);
    batcher.submit(request(2, { ...NYC, size: 's-999vcpu-1tb' }));
    await until(2);
    expect(batcher.outcome(id(2))).toMatchObject({ phase: 'failed', kind: 'invalid' });
  });

  it('takes a queued request back, and sends nothing once stopped', async () => {
    const { batcher } = setup({ windowMs: 60_000, maxWaitMs: 60_000 });
    batcher.submit(request(1));
    batcher.submit(request(2));
    expect(batcher.cancel(id(1))).toBe(true);
    expect(batcher.pending.queued).toBe(1);
    await batcher.stop();
    expect(batcher.submit(request(3))).toBe(false);
    await new Promise((r) => setTimeout(r, 50));
    expect(sim.stats.calls('POST', '/v2/droplets')).toBe(0);
  });

  it('refuses options that cannot work', () => {
    const fleet = new FleetCache({ clock: systemClock });
    const base = { provider, fleet, clock: systemClock, tags: [], userData: async () => undefined, onSettled: () => {} };
    expect(() => new CreateBatcher({ ...base, maxBatch: 11 })).toThrow(/maxBatch/);
    expect(() => new CreateBatcher({ ...base, windowMs: 10, maxWaitMs: 5 })).toThrow(/windowMs/);
  });
});
