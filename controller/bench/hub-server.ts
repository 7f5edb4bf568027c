/**
 * A controller process for the agent-sockets benchmark: the real controller (config,
 * database, HTTP server, hub) plus an IPC channel through which the benchmark asks for
 * process figures and has it issue commands and time their round trips.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
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

const config = parseConfig(['--port', '0', '--log-level', 'warn', '--log-format', 'json'], {
  DATABASE_URL: process.env.DATABASE_URL,
  TOOLBELT_MASTER_KEY: process.env.TOOLBELT_MASTER_KEY,
});
const controller = await startController(config, createLogger(config, process.stderr), {
  hub: { heartbeatIntervalMs: Number(process.env.HEARTBEAT_MS ?? 15_000), replicaId: process.env.REPLICA_ID },
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

/** Sends `count` commands one after another (paced by `gapMs`), spread over the environments. */
async function roundTrips(environmentIds: string[], count: number, gapMs: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const environmentId = environmentIds[i % environmentIds.length]!;
    const started = performance.now();
    const command = await controller.hub.sendCommand(environmentId, { commandType: 'stop', toolInstanceId: 'bench-tool', generation: i + 1 }, { timeoutMs: 10_000 });
    if (command.status === 'done') times.push(performance.now() - started);
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
