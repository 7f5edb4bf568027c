/**
 * A controller process for the agent-sockets benchmark: the real controller (config,
 * database, HTTP server, hub) plus an IPC channel through which the benchmark asks for
 * process figures and has it issue commands and time their round trips.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { enqueueCommand, FINAL_COMMAND_STATUSES, getCommand } from '@toolbelt/schema';
import { parseConfig } from '../src/config.ts';
import { startController } from '../src/controller.ts';
import { createLogger } from '../src/logger.ts';

export interface ServerFigures {
  type: 'figures';
  rssBytes: number;
  heapUsedBytes: number;
  /** CPU time used so far (µs, user + system). */
  cpuMicros: number;
  /** performance.now() when sampled. */
  at: number;
  eventLoopDelayP99Ms: number;
  hub: ReturnType<Awaited<ReturnType<typeof startController>>['hub']['stats']>;
}

/** Round trips waiting for their agent's answer on this replica, by environment id (one at a time each). */
const answers = new Map<string, () => void>();
const config = parseConfig(['--port', '0', '--log-level', 'warn', '--log-format', 'json'], {
  DATABASE_URL: process.env.DATABASE_URL,
  TOOLBELT_MASTER_KEY: process.env.TOOLBELT_MASTER_KEY,
});
const controller = await startController(config, createLogger(config, process.stderr), {
  hub: {
    heartbeatIntervalMs: Number(process.env.HEARTBEAT_MS ?? 15_000),
    replicaId: process.env.REPLICA_ID,
    onAgentEvent: (event) => {
      if (event.kind === 'command_result' || event.kind === 'command_timed_out') answers.get(event.environmentId)?.();
    },
  },
});
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

function figures(): ServerFigures {
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  const result: ServerFigures = {
    type: 'figures',
    rssBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    cpuMicros: cpu.user + cpu.system,
    at: performance.now(),
    eventLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    hub: controller.hub.stats(),
  };
  loopDelay.reset();
  return result;
}

/**
 * One command the way production issues one — `enqueueCommand`; the replica holding the
 * socket claims and sends it — timed until its outcome is known here: by the hub's event
 * when this replica holds the agent's socket, otherwise by reading the command's row (every
 * millisecond). The round trip in ms when the agent answered `done`, else undefined.
 */
async function roundTrip(environmentId: string, generation: number): Promise<number | undefined> {
  const db = controller.database.db;
  const here = controller.hub.isConnected(environmentId);
  const heard = here ? new Promise<void>((resolve) => answers.set(environmentId, resolve)) : undefined;
  const started = performance.now();
  const written = await enqueueCommand(db, { environmentId, commandType: 'stop', toolInstanceId: 'bench-tool', generation, timeoutMs: 10_000 });
  if (written.kind !== 'ok') return void answers.delete(environmentId);
  const id = written.value.command.id;
  let command = heard ? await heard.then(() => getCommand(db, id)) : await getCommand(db, id);
  while (!heard && command && !FINAL_COMMAND_STATUSES.includes(command.status)) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    command = await getCommand(db, id);
  }
  const elapsed = performance.now() - started;
  answers.delete(environmentId);
  return command?.status === 'done' ? elapsed : undefined;
}

/** Sends `count` commands one after another (paced by `gapMs`), spread over the environments. */
async function roundTrips(environmentIds: string[], count: number, gapMs: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const time = await roundTrip(environmentIds[i % environmentIds.length]!, i + 1);
    if (time !== undefined) times.push(time);
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  return times;
}

process.on('message', (message: { type: string; environmentIds?: string[]; count?: number; gapMs?: number }) => {
  if (message.type === 'figures') process.send!(figures());
  else if (message.type === 'rtt') {
    void roundTrips(message.environmentIds!, message.count!, message.gapMs ?? 5).then((times) => process.send!({ type: 'rtt', times }));
  } else if (message.type === 'stop') {
    void controller.stop().then(() => process.send!({ type: 'stopped' }, () => process.exit(0)));
  }
});
process.on('disconnect', () => void controller.stop().then(() => process.exit(0)));
process.send!({ type: 'ready', url: controller.url.replace(/^http/, 'ws') + '/agent/v1' });
