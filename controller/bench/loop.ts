/**
 * Reconcile loop benchmark (figures in docs/performance.md, "Reconcile loop"). Run:
 * `npm run bench -w @toolbelt/controller` (the Postgres half and the failover measurement
 * need TEST_DATABASE_URL; BENCH_ENVIRONMENTS changes the fleet size, default 10,000;
 * BENCH_PARTS=loop,pglite,postgres,failover picks parts; BENCH_LOG=warn shows the logs).
 *
 * For each engine: N environments; a leader elector takes the lease and starts the runner,
 * whose first act is a resync of every key. Measured:
 * - resync, writing: every row's Ready condition changes and is written through the fence;
 * - resync, steady: nothing changed, each reconcile reads its row and writes nothing.
 * With the production defaults (4 workers per kind, 5,000/s limit), with 16 workers and no
 * effective limit, and with the status written through `fence.write` (a transaction)
 * instead of one fenced statement. Also the loop's own cost (no-op reconciler, no database)
 * and, on Postgres, failover: SIGKILL of the leader process until a new leader.
 * Budget: ≥ 1,000/s on PGlite, ≥ 2,000/s on Postgres, 10,000 in < 10 s, failover < 12 s.
 */
import { spawn } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { agentDroplets, agents, type Database, getLease, migrate, openDatabase, rowsOf } from '@toolbelt/schema';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { Fence, Reconciler } from '@toolbelt/reconcilers';
import { LeaderElector } from '../src/loop/leader.ts';
import type { ReconcileReport } from '../src/loop/reconcile.ts';
import { LoopRunner } from '../src/loop/runner.ts';
import { statusReconciler, statusReconcilerTx } from './status-reconciler.ts';

const N = Number(process.env.BENCH_ENVIRONMENTS ?? 10_000);
const logger = pino({ level: process.env.BENCH_LOG ?? 'silent' }, process.stderr);

async function seed(database: Database): Promise<void> {
  const { db } = database;
  for (let start = 0; start < N; start += 1_000) {
    const count = Math.min(1_000, N - start);
    const rows = await db
      .insert(agents)
      .values(Array.from({ length: count }, (_, i) => ({ name: `bench-${start + i}`, tool_environment_active: true })))
      .returning({ id: agents.id });
    await db.insert(agentDroplets).values(
      rows.map((agent, i) => ({
        agent_id: agent.id,
        region: 'nyc3',
        size: 's-1vcpu-1gb',
        status: (start + i) % 3 === 0 ? ('active' as const) : ('provisioning' as const),
        droplet_id: (start + i) % 3 === 0 ? 1_000_000 + start + i : null,
      })),
    );
  }
}

interface Pass {
  label: string;
  ms: number;
  cpuMs: number;
  outcomes: Map<string, number>;
}

/** Waits for N reports after `trigger`, timing wall and CPU time. */
async function pass(label: string, sink: { next: (n: number) => Promise<Map<string, number>> }, trigger: () => Promise<unknown>): Promise<Pass> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const done = sink.next(N);
  await trigger();
  const outcomes = await done;
  const used = process.cpuUsage(cpu);
  return { label, ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000, outcomes };
}

function counter() {
  let target = 0;
  let seen = new Map<string, number>();
  let total = 0;
  let resolve: (m: Map<string, number>) => void = () => {};
  return {
    onOutcome(report: ReconcileReport) {
      seen.set(report.outcome, (seen.get(report.outcome) ?? 0) + 1);
      total += 1;
      if (total === target) resolve(seen);
    },
    next(n: number) {
      target = n;
      total = 0;
      seen = new Map();
      return new Promise<Map<string, number>>((r) => (resolve = r));
    },
  };
}

interface Setting {
  label: string;
  workers: number;
  rate: number;
  reconciler: Reconciler;
  /** Also measure a steady resync (nothing to write) after the writing one. */
  steady: boolean;
}

const SETTINGS: Setting[] = [
  { label: 'defaults: 4 workers, 5,000/s', workers: 4, rate: 5_000, reconciler: statusReconciler, steady: true },
  { label: '16 workers, no limit', workers: 16, rate: 1_000_000, reconciler: statusReconciler, steady: true },
  { label: '16 workers, fence.write (tx)', workers: 16, rate: 1_000_000, reconciler: statusReconcilerTx, steady: false },
];

async function runSetting(database: Database, setting: Setting, lease: string): Promise<Pass[]> {
  await database.db.execute(sql`update agent_droplets set conditions = '[]'::jsonb, observed_generation = 0`);
  const sink = counter();
  const runner = new LoopRunner({
    db: database.db,
    logger,
    registry: new Registry(),
    reconcilers: [setting.reconciler],
    workersPerKind: setting.workers,
    rateLimit: { perSecond: setting.rate, burst: Math.max(1, Math.ceil(setting.rate / 10)) },
    fence: (): Fence => elector.fence(),
    onOutcome: sink.onOutcome,
  });
  const elector: LeaderElector = new LeaderElector({ db: database.db, logger, components: [runner], lease, registry: new Registry() });
  const passes = [await pass('resync, writing status', sink, () => elector.start(new AbortController().signal))];
  if (setting.steady) passes.push(await pass('resync, steady (reads only)', sink, () => runner.resync()));
  const [check] = rowsOf<{ n: number }>(
    await database.db.execute(sql`select count(*)::int as n from agent_droplets where observed_generation = generation`),
  );
  await elector.stop();
  if (check?.n !== N) throw new Error(`only ${check?.n} of ${N} environments carry their observed generation`);
  return passes;
}

function report(kind: string, setting: string, passes: Pass[]): void {
  for (const p of passes) {
    const outcomes = [...p.outcomes].map(([k, v]) => `${k} ${v}`).join(', ');
    console.log(
      `${kind.padEnd(8)} ${setting.padEnd(30)} ${p.label.padEnd(28)} ${N} in ${p.ms.toFixed(0)} ms = ${((N / p.ms) * 1000).toFixed(0)}/s, CPU ${((p.cpuMs / N) * 1000).toFixed(0)} µs/reconcile (${outcomes})`,
    );
  }
}

async function benchEngine(kind: string, database: Database): Promise<void> {
  await migrate(database.db);
  await seed(database);
  for (const [i, setting] of SETTINGS.entries()) report(kind, setting.label, await runSetting(database, setting, `bench-${i}`));
}

/** The loop's own cost: a reconciler that does nothing, no database. */
async function loopOnly(): Promise<void> {
  const count = 50_000;
  const sink = counter();
  const runner = new LoopRunner({
    db: undefined as never,
    logger,
    registry: new Registry(),
    rateLimit: { perSecond: 1e9, burst: 1e6 },
    reconcilers: [{ kind: 'noop', reconcile: async () => {} }],
    onOutcome: sink.onOutcome,
  });
  await runner.start(new AbortController().signal);
  const cpu = process.cpuUsage();
  const started = performance.now();
  const done = sink.next(count);
  for (let i = 0; i < count; i += 1) runner.enqueue('noop', `k${i}`);
  await done;
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  console.log(
    `loop only (no-op reconciler, 4 workers): ${count} in ${ms.toFixed(0)} ms = ${((count / ms) * 1000).toFixed(0)}/s, CPU ${((used.user + used.system) / count).toFixed(0)} µs/reconcile`,
  );
  await runner.stop();
}

/** Time from SIGKILL of the leader to a new leader, with the default 10 s lease. */
async function failover(url: string): Promise<void> {
  const database = await openDatabase({ url, maxConnections: 2 });
  await database.db.execute(sql`delete from leases where name = 'failover'`);
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./elector-child.ts', import.meta.url)), url], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('"leader":true') && resolve()));
  let tookOver: () => void = () => {};
  const took = new Promise<void>((r) => (tookOver = r));
  const survivor = new LeaderElector({
    db: database.db,
    logger,
    components: [],
    lease: 'failover',
    registry: new Registry(),
    onChange: (s) => s.leader && tookOver(),
  });
  await survivor.start(new AbortController().signal);
  // Kill at a random point of the renewal cycle.
  await new Promise((r) => setTimeout(r, Math.random() * 3_000));
  const killedAt = performance.now();
  child.kill('SIGKILL');
  await took;
  const lease = await getLease(database.db, 'failover');
  console.log(`failover (default lease: 10 s, renew 3 s, followers try every 1 s): new leader ${((performance.now() - killedAt) / 1000).toFixed(1)} s after SIGKILL (epoch ${lease?.epoch})`);
  await survivor.stop();
  await database.close();
}

/** Which parts to run: BENCH_PARTS=loop,pglite,postgres,failover (default all). */
const parts = new Set((process.env.BENCH_PARTS ?? 'loop,pglite,postgres,failover').split(','));

console.log(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')} on ${availableParallelism()} cores`);
if (parts.has('loop')) await loopOnly();
if (parts.has('pglite')) {
  const pglite = await openDatabase({ dataDir: 'memory://' });
  try {
    await benchEngine('pglite', pglite);
  } finally {
    await pglite.close();
  }
}

const baseUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
if (!baseUrl) {
  console.log('postgres and failover: skipped (set TEST_DATABASE_URL)');
} else if (parts.has('postgres') || parts.has('failover')) {
  const admin = await openDatabase({ url: baseUrl, maxConnections: 1 });
  const name = `toolbelt_bench_${process.pid}`;
  await admin.db.execute(sql.raw(`create database ${name}`));
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const postgres = await openDatabase({ url: url.toString(), maxConnections: 10 });
  try {
    if (parts.has('postgres')) await benchEngine('postgres', postgres);
    else await migrate(postgres.db);
    if (parts.has('failover')) for (let i = 0; i < Number(process.env.BENCH_FAILOVERS ?? 3); i += 1) await failover(url.toString());
  } finally {
    await postgres.close();
    await admin.db.execute(sql.raw(`drop database if exists ${name} with (force)`));
    await admin.close();
  }
}
