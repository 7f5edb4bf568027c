/**
 * Benchmark scenario of the droplet lifecycle: N environments enabled at once, run by the
 * real controller side (loop runner, environment reconciler, fleet sweep, create batcher,
 * provider) against the simulator over HTTP with DigitalOcean's limits (5,000/h, 250/min)
 * and 30–120 s boots, all on one simulated clock. Measures the simulated time until every
 * environment is `active` (Ready), the DigitalOcean calls (counted by the simulator, as
 * DigitalOcean would) and the 429s.
 *
 * Note on simulated time: the database work is real and does not speed up with the clock,
 * so at speed ×S each real millisecond of reconciling counts S simulated ones — the figure
 * is pessimistic by that much; run with `--speed 1` for real time.
 */
import { type Clock, createScaledClock, type Database, migrate, openDatabase, rowsOf } from '@toolbelt/schema';
import { startSimulator } from '@toolbelt/simulator';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { Registry } from 'prom-client';
import { parseConfig } from '../src/config.ts';
import { NO_AGENT_RELEASE } from '../src/agent-releases.ts';
import { createLifecycle } from '../src/lifecycle.ts';
import { LoopRunner } from '../src/loop/runner.ts';

export interface LifecycleScenarioOptions {
  environments: number;
  /** Simulated time runs this many times faster than real time. */
  speed: number;
  /** A Postgres URL of an empty scratch database; PGlite in memory when absent. */
  databaseUrl?: string;
  seed?: number;
  /** Concurrent reconciles (default: the controller's default, 4). */
  workers?: number;
}

export interface LifecycleScenarioResult {
  environments: number;
  database: string;
  speed: number;
  calls: number;
  createCalls: number;
  sweepCalls: number;
  otherCalls: number;
  rateLimited: number;
  batches: number;
  /** Simulated time from switching every environment on until all were active. */
  simulatedSeconds: number;
  realSeconds: number;
}

async function seedEnvironments(database: Database, n: number): Promise<void> {
  await database.db.execute(sql`
    with a as (
      insert into agents (name) select 'bench-' || g from generate_series(1, ${n}) g returning id
    )
    insert into agent_droplets (agent_id, region, size) select id, 'nyc3', 's-1vcpu-1gb' from a`);
}

async function count(database: Database, status: string): Promise<number> {
  const rows = rowsOf<{ n: number | string }>(await database.db.execute(sql`select count(*) as n from agent_droplets where status = ${status}`));
  return Number(rows[0]?.n ?? 0);
}

async function waitUntilAllActive(database: Database, n: number, clock: Clock): Promise<void> {
  for (;;) {
    if ((await count(database, 'active')) >= n) return;
    await clock.sleep(1_000);
  }
}

/** Runs the scenario once and tears everything down. */
export async function runLifecycleScenario(options: LifecycleScenarioOptions): Promise<LifecycleScenarioResult> {
  const clock = createScaledClock(options.speed);
  const sim = await startSimulator({ clock, bootDelayMs: { minMs: 30_000, maxMs: 120_000 }, seed: options.seed ?? 1 });
  const database = await openDatabase(options.databaseUrl ? { url: options.databaseUrl } : { dataDir: 'memory://' });
  await migrate(database.db);
  await seedEnvironments(database, options.environments);
  // The batch window is about coalescing this process's own (real-time) work: 150 ms real.
  const config = parseConfig([], {
    DIGITALOCEAN_TOKEN: sim.token,
    DIGITALOCEAN_API_URL: sim.url,
    TOOLBELT_AGENT_URL: 'wss://toolbelt.invalid/agent/v1',
    TOOLBELT_AGENT_REQUIRED: 'false', // DigitalOcean's side only: these droplets run no agent
    TOOLBELT_CREATE_BATCH_WINDOW_MS: String(150 * options.speed),
  });
  const logger = pino({ level: process.env.BENCH_LOG_LEVEL ?? 'warn' }, pino.destination(process.env.BENCH_LOG_FILE ?? 2));
  const registry = new Registry();
  const runner = new LoopRunner({ db: database.db, logger, registry, clock, workersPerKind: options.workers ?? config.reconcileWorkers });
  const lifecycle = await createLifecycle({ config, db: database.db, logger, sink: runner, registry, clock, defaultAgentUrl: () => '', agentRelease: () => NO_AGENT_RELEASE });
  runner.register(...lifecycle.reconcilers).watch(lifecycle.sweeper);
  const abort = new AbortController();
  try {
    for (const component of lifecycle.leaderComponents) await component.start(abort.signal);
    await runner.start(abort.signal);
    // Let the start-up resync (all environments still off) and the firewall settle.
    await clock.sleep(5_000);
    sim.stats.reset();
    const started = clock.now();
    const realStarted = performance.now();
    await database.db.execute(sql`update agents set tool_environment_active = true`);
    const keys = rowsOf<{ id: string }>(await database.db.execute(sql`select id from agents`));
    for (const { id } of keys) runner.enqueue('environment', id, { source: 'bench' });
    await waitUntilAllActive(database, options.environments, clock);
    if (process.env.BENCH_DEBUG) {
      const text = await registry.metrics();
      console.error(text.split('\n').filter((l) => /reconcile_total|duration_seconds_(sum|count)|fleet_sweeps/.test(l)).join('\n'));
    }
    const stats = sim.stats;
    const createCalls = stats.calls('POST', '/v2/droplets');
    const sweepCalls = stats.calls('GET', '/v2/droplets');
    return {
      environments: options.environments,
      database: database.kind,
      speed: options.speed,
      calls: stats.total,
      createCalls,
      sweepCalls,
      otherCalls: stats.total - createCalls - sweepCalls,
      rateLimited: stats.rateLimited,
      batches: lifecycle.batcher.stats.batches,
      simulatedSeconds: (clock.now() - started) / 1000,
      realSeconds: (performance.now() - realStarted) / 1000,
    };
  } finally {
    abort.abort();
    await runner.stop();
    for (const component of [...lifecycle.leaderComponents].reverse()) await component.stop();
    runner.dispose();
    await lifecycle.close();
    await sim.close();
    await database.close();
  }
}

/** The figures as a markdown table row set. */
export function lifecycleTable(results: readonly LifecycleScenarioResult[]): string {
  const rows = results.map((r) =>
    [
      r.environments,
      r.database,
      `×${r.speed}`,
      r.calls,
      `${r.createCalls} / ${r.sweepCalls} / ${r.otherCalls}`,
      r.batches,
      r.rateLimited,
      `${(r.simulatedSeconds / 60).toFixed(1)} min`,
      `${r.realSeconds.toFixed(1)} s`,
    ].join(' | '),
  );
  return [
    '| environments | database | clock | DigitalOcean calls | create / sweep / other | create batches | 429s | simulated time to all active | real time |',
    '| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r} |`),
  ].join('\n');
}
