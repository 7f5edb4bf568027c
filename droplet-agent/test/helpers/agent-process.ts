/**
 * Runs a real droplet agent process (`node --import tsx src/main.ts --config FILE`) for a
 * test, with its own temporary state dir, and kills it afterwards.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentConfigInput } from '../../src/config.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export interface AgentProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly stateDir: string;
  readonly configPath: string;
  /** Everything the agent logged (JSON lines on stderr). */
  readonly log: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A fresh temporary directory. */
export const tempDir = (prefix: string): string => mkdtempSync(join(tmpdir(), prefix));

/** Config defaults for tests: fast reconnects, no docker unless asked. */
export function testConfig(overrides: Partial<AgentConfigInput> & Pick<AgentConfigInput, 'controllerUrl'>): AgentConfigInput {
  return {
    stateDir: tempDir('toolbelt-agent-state-'),
    runtimes: ['process'],
    heartbeatIntervalMs: 1000,
    reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
    instanceIdFile: '/nonexistent',
    installDir: tempDir('toolbelt-agent-install-'),
    ...overrides,
  };
}

export function startAgentProcess(config: AgentConfigInput, configPath?: string): AgentProcess {
  const path = configPath ?? join(tempDir('toolbelt-agent-config-'), 'agent.json');
  writeFileSync(path, JSON.stringify(config), { mode: 0o600 });
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--config', path], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' },
  });
  const log: string[] = [];
  let partial = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    log.push(...parts);
  });
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    pid: child.pid!,
    stateDir: config.stateDir!,
    configPath: path,
    log,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
