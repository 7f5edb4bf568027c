/**
 * Heartbeat write capacity (figures in docs/performance.md, "Agent sockets"): 15,000
 * environments in a fresh Postgres database, their heartbeats written as the hub flushes them
 * (`writeHeartbeats`, 5,000 rows a statement), five rounds. Run:
 * `npx tsx controller/bench/heartbeat-writes.ts` with TEST_DATABASE_URL (an admin URL).
 *
 * BENCH_TRIGGERS picks the `agent_droplets` update triggers to measure against:
 * - `current` (default): the migrations as they are (0006: spec columns in a WHEN clause);
 * - `jsonb`: 0001's trigger put back (`to_jsonb` of the old and new row on every update);
 * - `none`: no trigger at all (the floor).
 */
import { readFileSync } from 'node:fs';
import { agentDroplets, agents, type Db, migrate, openDatabase, writeHeartbeats } from '@toolbelt/schema';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';

const ROWS = 15_000;
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TRIGGERS = process.env.BENCH_TRIGGERS ?? 'current';
const METRICS = { cpuPercent: 1, memoryUsedBytes: 1, memoryTotalBytes: 2, diskUsedBytes: 1, diskTotalBytes: 2, load1: 0, load5: 0, load15: 0, uptimeSeconds: 1 };

async function setTriggers(db: Db): Promise<void> {
  if (TRIGGERS === 'current') return;
  if (!['jsonb', 'none'].includes(TRIGGERS)) throw new Error(`BENCH_TRIGGERS must be current, jsonb or none, got ${TRIGGERS}`);
  await db.execute(sql.raw('drop trigger agent_droplets_generation_0_stamp on agent_droplets'));
  await db.execute(sql.raw('drop trigger agent_droplets_generation_1_bump on agent_droplets'));
  if (TRIGGERS === 'none') return;
  const file = new URL('../../schema/drizzle/0001_generation_triggers.sql', import.meta.url);
  const [fn, , trigger] = readFileSync(file, 'utf8').split('--> statement-breakpoint');
  await db.execute(sql.raw(fn!.replace('toolbelt_bump_generation()', 'bench_jsonb_bump()')));
  await db.execute(sql.raw(trigger!.replace('toolbelt_bump_generation(', 'bench_jsonb_bump(')));
}

async function seed(db: Db): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < ROWS; start += 1000) {
    const made = await db
      .insert(agents)
      .values(Array.from({ length: 1000 }, (_, i) => ({ name: `hb-${start + i}` })))
      .returning({ id: agents.id });
    const envs = await db
      .insert(agentDroplets)
      .values(made.map((a) => ({ agent_id: a.id, region: 'nyc3', size: 's-1vcpu-1gb' })))
      .returning({ id: agentDroplets.id });
    ids.push(...envs.map((e) => e.id));
  }
  return ids;
}

const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
const name = `toolbelt_bench_heartbeats_${process.pid}`;
await admin.unsafe(`create database ${name}`);
const url = new URL(ADMIN_URL);
url.pathname = `/${name}`;
const database = await openDatabase({ url: url.toString() });
try {
  await migrate(database.db);
  await setTriggers(database.db);
  const ids = await seed(database.db);
  for (let round = 1; round <= 5; round += 1) {
    const batch = ids.map((environmentId) => ({ environmentId, at: new Date(Date.now() + round * 60_000), agentVersion: 'bench', metrics: METRICS }));
    const started = performance.now();
    for (let i = 0; i < batch.length; i += 5000) await writeHeartbeats(database.db, batch.slice(i, i + 5000));
    const seconds = (performance.now() - started) / 1000;
    console.log(`triggers ${TRIGGERS}: round ${round}: ${ROWS} rows in ${(seconds * 1000).toFixed(0)} ms = ${(ROWS / seconds).toFixed(0)} rows/s`);
  }
} finally {
  await database.close();
  await admin.unsafe(`drop database ${name}`);
  await admin.end();
}
