/**
 * Real droplet agent processes for hub tests: `node --import tsx droplet-agent/src/main.ts
 * --config FILE`, as cloud-init starts it on a droplet, with a temporary state dir. An agent
 * a test leaves running fails it (test/support/leaks.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trackChild } from '../support/leaks.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(ROOT, 'droplet-agent/src/main.ts');
const dirs: string[] = [];

/** Whether the droplet agent is in this checkout (it comes with the `agent` branch). */
export const agentAvailable = existsSync(MAIN);

export const tempDir = (prefix: string): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};

export interface AgentProcess {
  readonly child: ChildProcess;
  readonly stateDir: string;
  readonly log: string[];
  readonly exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts an agent that dials `controllerUrl` with `token` (enrollment token) on first connect. */
/** `extra`: more agent config (e.g. `controllerCa`). */
export function startAgentProcess(
  controllerUrl: string,
  enrollmentToken: string,
  dropletName?: string,
  extra: Record<string, unknown> = {},
): AgentProcess {
  const stateDir = tempDir('hub-agent-state-');
  // A droplet's hostname is its name; without one the agent reports this machine's.
  const hostnameFile = join(tempDir('hub-agent-etc-'), 'hostname');
  if (dropletName) writeFileSync(hostnameFile, `${dropletName}\n`);
  const config = {
    controllerUrl,
    enrollmentToken,
    stateDir,
    runtimes: ['process'],
    heartbeatIntervalMs: 1000,
    reconnect: { initialDelayMs: 100, maxDelayMs: 1000 },
    instanceIdFile: '/nonexistent',
    hostnameFile,
    installDir: tempDir('hub-agent-install-'),
    ...extra,
  };
  const configPath = join(tempDir('hub-agent-config-'), 'agent.json');
  writeFileSync(configPath, JSON.stringify(config), { mode: 0o600 });
  const child = trackChild(
    spawn(process.execPath, ['--import', 'tsx', MAIN, '--config', configPath], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' },
    }),
    'a droplet agent process',
  );
  const log: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => log.push(...chunk.split('\n').filter(Boolean)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stateDir,
    log,
    exited,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** A local npm package whose bin prints a fingerprint of $API_TOKEN and stays up. */
export function fingerprintPackage(): string {
  const dir = tempDir('hub-fp-tool-');
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fp-tool', version: '1.0.0', bin: { 'fp-tool': 'bin/fp.js' } }));
  writeFileSync(
    join(dir, 'bin', 'fp.js'),
    [
      '#!/usr/bin/env node',
      "const { createHash } = require('node:crypto');",
      "const token = process.env.API_TOKEN ?? '';",
      "console.log('fingerprint ' + createHash('sha256').update(token).digest('hex').slice(0, 16));",
      'setInterval(() => {}, 1 << 30);',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
