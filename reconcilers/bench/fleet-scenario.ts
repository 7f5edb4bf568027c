/**
 * Benchmark scenario: create N droplets and observe them until every one is `active`,
 * against the simulator with DigitalOcean's real rate limits (5,000/h, 250/min) and boot
 * times (30–120 s), on one simulated clock shared by the simulator and the client.
 *
 * Three ways side by side:
 * - `batched`: the provider — one adoption sweep, creates of 10 names sized by the budget,
 *   then fleet sweeps (200 a page) every `sweepEveryMs` until all are active;
 * - `naive`: dots-wrapper as a simple script uses it — one create per droplet, then one GET
 *   per droplet per polling round; on a 429 it waits for `retry-after` (or the reset);
 * - `naive-paced`: the same naive calls through the provider (paced, so no 429s), to show
 *   that pacing alone does not make the call count small.
 *
 * Calls and 429s are counted by the simulator (what DigitalOcean would have seen).
 */
import { randomUUID } from 'node:crypto';
import { type Clock, createScaledClock } from '@toolbelt/schema';
import { type Simulator, startSimulator } from '@toolbelt/simulator';
import { createApiClient } from 'dots-wrapper';
import { type Provider, createProvider, dropletNameFor, indexFleet, MAX_DROPLETS_PER_CREATE } from '../src/index.ts';

export type Way = 'batched' | 'naive' | 'naive-paced';

export interface ScenarioOptions {
  droplets: number;
  /** Simulated time runs this many times faster than real time. */
  speed: number;
  /** Fleet sweep interval of the batched way, simulated ms (default 20 s). */
  sweepEveryMs?: number;
  /** Pause between polling rounds of the naive ways, simulated ms (default 10 s). */
  pollEveryMs?: number;
  seed?: number;
}

export interface ScenarioResult {
  way: Way;
  droplets: number;
  /** Requests the simulator received (all of them, 429s included). */
  calls: number;
  createCalls: number;
  observeCalls: number;
  callsPerDroplet: number;
  /** Requests answered 429. */
  rateLimited: number;
  /** Simulated time from the first call until every droplet was seen active. */
  simulatedSeconds: number;
  realSeconds: number;
}

const SPEC = { region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64' };
const FLEET_TAG = 'toolbelt-bench';
const REAL_BOOT = { minMs: 30_000, maxMs: 120_000 };

/** Creates in batches of 10, as many at once as the budget allows right now. */
async function createBatched(provider: Provider, names: string[]): Promise<void> {
  const batches: string[][] = [];
  for (let i = 0; i < names.length; i += MAX_DROPLETS_PER_CREATE) batches.push(names.slice(i, i + MAX_DROPLETS_PER_CREATE));
  while (batches.length > 0) {
    const now = Math.max(1, Math.min(provider.budget().allowedNow, batches.length));
    await Promise.all(batches.splice(0, now).map((batch) => provider.createDroplets(batch, { ...SPEC, tags: [FLEET_TAG] })));
  }
}

async function batched(provider: Provider, clock: Clock, envIds: string[], sweepEveryMs: number): Promise<void> {
  // Adoption first, as the lifecycle reconciler does: what of ours exists already?
  const existing = indexFleet(await provider.listFleet(FLEET_TAG)).byEnv;
  await createBatched(provider, envIds.filter((id) => !existing.has(id)).map(dropletNameFor));
  for (;;) {
    await clock.sleep(sweepEveryMs);
    const { byEnv } = indexFleet(await provider.listFleet(FLEET_TAG));
    if (envIds.every((id) => byEnv.get(id)?.[0]?.status === 'active')) return;
  }
}

/** A naive client: the call, and on a 429 a wait for retry-after (or the reset) and again. */
function naiveCall(clock: Clock) {
  return async <T>(send: () => Promise<T>): Promise<T> => {
    for (;;) {
      try {
        return await send();
      } catch (error) {
        const response = (error as { response?: { status?: number; headers?: Record<string, string> } }).response;
        if (response?.status !== 429) throw error;
        const retryAfter = Number(response.headers?.['retry-after']);
        const reset = Number(response.headers?.['ratelimit-reset']) * 1000;
        await clock.sleep(Number.isFinite(retryAfter) ? retryAfter * 1000 : Math.max(1000, reset - clock.now()));
      }
    }
  };
}

interface NaiveOps {
  create(name: string): Promise<number>;
  status(id: number): Promise<string | undefined>;
}

async function naive(ops: NaiveOps, clock: Clock, names: string[], pollEveryMs: number): Promise<void> {
  const pending = new Set<number>();
  for (const name of names) pending.add(await ops.create(name));
  while (pending.size > 0) {
    for (const id of [...pending]) if ((await ops.status(id)) === 'active') pending.delete(id);
    if (pending.size > 0) await clock.sleep(pollEveryMs);
  }
}

function rawOps(sim: Simulator, clock: Clock): NaiveOps {
  const client = createApiClient({ token: sim.token, endpoint: sim.url });
  const call = naiveCall(clock);
  return {
    create: async (name) => (await call(() => client.droplet.createDroplet({ name, ...SPEC, tags: [FLEET_TAG] }))).data.droplet.id,
    status: async (id) => (await call(() => client.droplet.getDroplet({ droplet_id: id }))).data.droplet.status,
  };
}

function pacedOps(provider: Provider): NaiveOps {
  return {
    create: async (name) => (await provider.createDroplet({ name, ...SPEC, tags: [FLEET_TAG] })).id,
    status: async (id) => (await provider.getDroplet(id))?.status,
  };
}

/** Runs one way on a fresh simulator and returns what it cost. */
export async function runScenario(way: Way, options: ScenarioOptions): Promise<ScenarioResult> {
  const clock = createScaledClock(options.speed);
  const sim = await startSimulator({ clock, bootDelayMs: REAL_BOOT, seed: options.seed ?? 1 });
  const provider = createProvider({ token: sim.token, apiUrl: sim.url, clock });
  const envIds = Array.from({ length: options.droplets }, () => randomUUID());
  const startedSim = clock.now();
  const startedReal = performance.now();
  try {
    if (way === 'batched') await batched(provider, clock, envIds, options.sweepEveryMs ?? 20_000);
    else {
      const ops = way === 'naive' ? rawOps(sim, clock) : pacedOps(provider);
      await naive(ops, clock, envIds.map(dropletNameFor), options.pollEveryMs ?? 10_000);
    }
    const createCalls = sim.stats.calls('POST', '/v2/droplets');
    const calls = sim.stats.total;
    return {
      way,
      droplets: options.droplets,
      calls,
      createCalls,
      observeCalls: calls - createCalls,
      callsPerDroplet: calls / options.droplets,
      rateLimited: sim.stats.rateLimited,
      simulatedSeconds: (clock.now() - startedSim) / 1000,
      realSeconds: (performance.now() - startedReal) / 1000,
    };
  } finally {
    provider.close();
    await sim.close();
  }
}

/** The results as a Markdown table (what docs/performance.md shows). */
export function markdownTable(results: readonly ScenarioResult[]): string {
  const rows = results.map((r) =>
    [
      r.way,
      r.droplets,
      r.calls,
      `${r.createCalls} / ${r.observeCalls}`,
      r.callsPerDroplet.toFixed(3),
      r.rateLimited,
      `${(r.simulatedSeconds / 60).toFixed(1)} min`,
      `${r.realSeconds.toFixed(1)} s`,
    ].join(' | '),
  );
  return [
    '| way | droplets | API calls | create / observe | calls per droplet | 429s | simulated time to all active | real time |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r} |`),
  ].join('\n');
}
