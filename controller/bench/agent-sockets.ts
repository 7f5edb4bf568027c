/**
 * The agent-sockets benchmark (docs/performance.md, "Agent sockets"): N light agents spread
 * over several processes hold sockets to one controller process and heartbeat every 15 s;
 * the controller's RSS and CPU, the heartbeat ingest and the database commits are measured
 * over a steady window, then command round trips (p50/p99) on the same replica and across
 * replicas (a second controller process that holds no socket).
 *
 *   npm run bench:hub -w @toolbelt/controller -- --agents 15000 --processes 3 --measure-s 60
 *
 * Needs a Postgres server: BENCH_DATABASE_URL or TEST_DATABASE_URL (an admin URL; the
 * benchmark creates and drops its own database), default postgres://postgres@127.0.0.1:5432/postgres.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Db, type HeartbeatRow, migrate, openDatabase, writeHeartbeats } from '@toolbelt/schema';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { bulkEnrolledEnvironments } from '../test/support/rows.ts';
import { LightAgentsProcess } from '../test/support/light-agents-process.ts';
import type { ServerFigures } from './hub-server.ts';

const { values: args } = parseArgs({
  options: {
    agents: { type: 'string', default: '15000' },
    processes: { type: 'string', default: '3' },
    'heartbeat-ms': { type: 'string', default: '15000' },
    'ramp-s': { type: 'string', default: '60' },
    'measure-s': { type: 'string', default: '60' },
    commands: { type: 'string', default: '1000' },
  },
});
const AGENTS = Number(args.agents);
const PROCESSES = Number(args.processes);
const HEARTBEAT_MS = Number(args['heartbeat-ms']);
const RAMP_MS = Number(args['ramp-s']) * 1000;
const MEASURE_MS = Number(args['measure-s']) * 1000;
const COMMANDS = Number(args.commands);
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SERVER = fileURLToPath(new URL('./hub-server.ts', import.meta.url));
/** One secrets master key for every controller process: replicas on one database share it. */
const MASTER_KEY = randomBytes(32).toString('base64');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** A controller process, talked to over IPC. */
class Server {
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(databaseUrl: string, replicaId: string): Promise<Server> {
    const child = fork(SERVER, [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, DATABASE_URL: databaseUrl, TOOLBELT_MASTER_KEY: MASTER_KEY, HEARTBEAT_MS: String(HEARTBEAT_MS), REPLICA_ID: replicaId },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const url = await new Promise<string>((resolve, reject) => {
      child.once('message', (m: { url: string }) => resolve(m.url));
      child.once('exit', (code) => reject(new Error(`controller exited with ${code}`)));
    });
    return new Server(child, url);
  }

  ask<T>(message: object, answer: string): Promise<T> {
    return new Promise((resolve) => {
      const on = (m: { type: string }) => {
        if (m.type !== answer) return;
        this.child.off('message', on);
        resolve(m as T);
      };
      this.child.on('message', on);
      this.child.send(message);
    });
  }

  figures(): Promise<ServerFigures> {
    return this.ask({ type: 'figures' }, 'figures');
  }

  async rtt(environmentIds: string[], count: number): Promise<number[]> {
    return (await this.ask<{ times: number[] }>({ type: 'rtt', environmentIds, count, gapMs: 5 }, 'rtt')).times.sort((a, b) => a - b);
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ type: 'stop' });
    await exited;
  }
}

async function commits(admin: postgres.Sql, name: string): Promise<number> {
  const [row] = await admin`select xact_commit::bigint as n from pg_stat_database where datname = ${name}`;
  return Number(row?.n ?? 0);
}

/**
 * The write itself, without sockets: all rows in batched statements (as the hub flushes)
 * beside one UPDATE per heartbeat (what the hub never does). Rows per second of each.
 */
async function heartbeatWrites(db: Db, ids: string[]): Promise<{ batched: number; single: number }> {
  const metrics = { cpuPercent: 1, memoryUsedBytes: 1, memoryTotalBytes: 2, diskUsedBytes: 1, diskTotalBytes: 2, load1: 0, load5: 0, load15: 0, uptimeSeconds: 1 };
  const rows = (at: number): HeartbeatRow[] => ids.map((environmentId) => ({ environmentId, at: new Date(at), agentVersion: 'bench', metrics }));
  let batched = 0;
  for (let round = 1; round <= 3; round += 1) {
    const batch = rows(Date.now() + round * 60_000);
    const started = performance.now();
    for (let i = 0; i < batch.length; i += 5000) await writeHeartbeats(db, batch.slice(i, i + 5000));
    batched = Math.max(batched, batch.length / ((performance.now() - started) / 1000));
  }
  const some = ids.slice(0, 1000);
  const at = new Date(Date.now() + 10 * 60_000).toISOString();
  const started = performance.now();
  for (const id of some) {
    await db.execute(sql`update agent_droplets set last_heartbeat_at = ${at}, agent_version = 'bench', host_metrics = ${JSON.stringify(metrics)}::jsonb where id = ${id}`);
  }
  return { batched, single: some.length / ((performance.now() - started) / 1000) };
}

async function main(): Promise<void> {
  const name = `toolbelt_bench_hub_${process.pid}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const lights: LightAgentsProcess[] = [];
  const servers: Server[] = [];
  try {
    const database = await openDatabase({ url: url.toString(), maxConnections: 4 });
    await migrate(database.db);
    console.log(`seeding ${AGENTS} environments with credentials…`);
    const agents = await bulkEnrolledEnvironments(database.db, AGENTS);
    await database.close();

    const server = await Server.start(url.toString(), 'bench-a');
    servers.push(server);
    const idle = await server.figures();
    const per = Math.ceil(AGENTS / PROCESSES);
    for (let p = 0; p < PROCESSES; p += 1) {
      const tokens = agents.slice(p * per, (p + 1) * per).map((a) => a.token);
      lights.push(await LightAgentsProcess.start({ url: server.url, tokens, heartbeatMs: HEARTBEAT_MS, reconnect: { initialMs: 1000, maxMs: 60_000 }, rampMs: RAMP_MS }));
    }
    const connectStarted = performance.now();
    console.log(`connecting ${AGENTS} light agents over ${PROCESSES} processes (ramp ${RAMP_MS / 1000} s)…`);
    for (;;) {
      const figures = await server.figures();
      if (figures.hub.connections >= AGENTS) break;
      if (performance.now() - connectStarted > RAMP_MS + 120_000) throw new Error(`only ${figures.hub.connections} of ${AGENTS} connected`);
      await sleep(2000);
    }
    const connectSeconds = (performance.now() - connectStarted) / 1000;
    // One full heartbeat period so that every agent is in its steady rhythm.
    await sleep(HEARTBEAT_MS);

    const before = await server.figures();
    const commitsBefore = await commits(admin, name);
    await sleep(MEASURE_MS);
    const after = await server.figures();
    const commitsAfter = await commits(admin, name);
    const seconds = (after.at - before.at) / 1000;
    const cores = (after.cpuMicros - before.cpuMicros) / 1e6 / seconds;
    const ingest = (after.hub.heartbeatsReceived - before.hub.heartbeatsReceived) / seconds;
    const written = (after.hub.heartbeatRowsWritten - before.hub.heartbeatRowsWritten) / seconds;
    const flushes = after.hub.heartbeatFlushes - before.hub.heartbeatFlushes;
    const flushMs = (after.hub.heartbeatFlushMsTotal - before.hub.heartbeatFlushMsTotal) / Math.max(1, flushes);

    console.log('command round trips (same replica)…');
    const ids = agents.map((a) => a.environmentId);
    const local = await server.rtt(ids, COMMANDS);
    const remote = await Server.start(url.toString(), 'bench-b');
    servers.push(remote);
    console.log('command round trips (across replicas)…');
    const across = await remote.rtt(ids, Math.min(COMMANDS, 500));
    const end = await server.figures();
    const lightRss = (await Promise.all(lights.map((l) => l.report()))).map((r) => r.rssBytes);
    await Promise.all(lights.map((l) => l.stop()));
    console.log('heartbeat writes without sockets…');
    const direct = await openDatabase({ url: url.toString(), maxConnections: 1 });
    const writes = await heartbeatWrites(direct.db, ids).finally(() => direct.close());

    const ms = (v: number) => `${v.toFixed(2)} ms`;
    console.log(`\n| figure | value |\n| --- | --- |`);
    console.log(`| agents connected (one controller process) | ${after.hub.connections} |`);
    console.log(`| time to connect all (ramp ${RAMP_MS / 1000} s) | ${connectSeconds.toFixed(0)} s |`);
    console.log(`| controller RSS: idle → ${AGENTS} agents → after commands | ${mib(idle.rssBytes)} → ${mib(after.rssBytes)} → ${mib(end.rssBytes)} |`);
    console.log(`| controller CPU, steady (${(seconds).toFixed(0)} s) | ${(cores * 100).toFixed(1)} % of one core |`);
    console.log(`| event-loop delay p99, steady | ${ms(after.eventLoopDelayP99Ms)} |`);
    console.log(`| heartbeats received | ${ingest.toFixed(0)}/s |`);
    console.log(`| heartbeat rows written | ${written.toFixed(0)}/s in ${flushes} flushes (${(written * seconds / Math.max(1, flushes)).toFixed(0)} rows, ${ms(flushMs)} each, longest ${ms(after.hub.heartbeatFlushMsMax)}) |`);
    console.log(`| database commits, whole database | ${((commitsAfter - commitsBefore) / seconds).toFixed(1)}/s |`);
    console.log(`| command round trip, same replica (${local.length}) | p50 ${ms(percentile(local, 50))}, p99 ${ms(percentile(local, 99))}, max ${ms(local.at(-1) ?? NaN)} |`);
    console.log(`| command round trip, across replicas (${across.length}) | p50 ${ms(percentile(across, 50))}, p99 ${ms(percentile(across, 99))}, max ${ms(across.at(-1) ?? NaN)} |`);
    console.log(`| light-agent processes RSS | ${lightRss.map(mib).join(', ')} |`);
    console.log(`| heartbeat write capacity: batched / one UPDATE each | ${writes.batched.toFixed(0)} / ${writes.single.toFixed(0)} rows/s |`);
  } finally {
    await Promise.all(lights.map((l) => l.stop()));
    await Promise.all(servers.map((s) => s.stop()));
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

await main();
