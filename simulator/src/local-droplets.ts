/**
 * Local droplets: a plug-in for the simulator's hooks that boots each droplet as a real
 * droplet-agent process on this machine, from the droplet's own cloud-init user_data — the
 * same document a real droplet runs. Each droplet gets a directory of its own standing in for
 * its disk (agent state, installs, `/etc/hostname`, cloud-init's instance id).
 *
 * - boot (new → active): the agent starts with the config the document writes, its paths
 *   moved into the droplet's directory;
 * - power off: the agent and every tool it started are killed, as a power cut would;
 *   power on: the agent starts again on the same disk;
 * - delete: the same, and the droplet's directory and containers are removed.
 *
 * A document that is not a toolbelt bootstrap is recorded and ignored.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractAgentBootstrap } from '@toolbelt/schema/protocol';
import { removeScopedContainers } from './local-containers.ts';
import type { DropletInfo, DropletStatus } from './model.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const AGENT_MAIN = join(REPO_ROOT, 'droplet-agent', 'src', 'main.ts');

export interface LocalDropletsOptions {
  /** Where each droplet's directory is made (`ROOT/DROPLET_ID/`). */
  root: string;
  /** The agent's argv before `--config FILE`; default: this repository's agent under tsx. */
  agentCommand?: readonly string[];
  /** Runtimes the local agents may use (default: process only). */
  runtimes?: readonly ('docker' | 'process')[];
  /** The Docker Engine API socket the local agents share (docker runtime). */
  dockerSocket?: string;
  /** Heartbeat interval for local agents (default: what the document says). */
  heartbeatIntervalMs?: number;
  /** Where the plug-in reports what it does (one line each). */
  log?: (line: string) => void;
}

export interface LocalDroplets {
  onBoot(droplet: DropletInfo): void;
  onDelete(droplet: DropletInfo): Promise<void>;
  onStatusChange(droplet: DropletInfo, from: DropletStatus): Promise<void>;
  /** Droplet ids whose agent process is running. */
  running(): number[];
  /** The directory standing in for a droplet's disk. */
  dirOf(dropletId: number): string;
  /** Kills every agent and tool and removes every droplet directory and container. */
  stopAll(): Promise<void>;
}

interface Local {
  config: Record<string, unknown>;
  child?: ChildProcess;
}

export function createLocalDroplets(options: LocalDropletsOptions): LocalDroplets {
  const log = options.log ?? (() => {});
  const droplets = new Map<number, Local>();
  const dirOf = (id: number) => join(options.root, String(id));

  const start = (id: number, local: Local) => {
    local.child = spawnAgent(options, dirOf(id), local.config);
    local.child.once('exit', (code, signal) => log(`droplet ${id}: agent exited (${signal ?? code})`));
    log(`droplet ${id}: agent started (pid ${local.child.pid})`);
  };

  const powerCut = async (id: number) => {
    const local = droplets.get(id);
    if (local?.child && local.child.exitCode === null && local.child.signalCode === null) {
      const exited = new Promise((resolve) => local.child!.once('exit', resolve));
      local.child.kill('SIGKILL');
      await exited;
    }
    killTools(join(dirOf(id), 'state'));
    if (options.dockerSocket) await removeScopedContainers(options.dockerSocket, scopeOf(id)).catch(() => {});
  };

  return {
    onBoot(droplet) {
      const bootstrap = droplet.userData ? extractAgentBootstrap(droplet.userData) : undefined;
      if (!bootstrap) {
        log(`droplet ${droplet.id}: user_data is not a toolbelt bootstrap; nothing to run`);
        return;
      }
      const dir = dirOf(droplet.id);
      for (const sub of ['etc', 'state', 'install']) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
      writeFileSync(join(dir, 'etc', 'hostname'), `${droplet.name}\n`);
      writeFileSync(join(dir, 'etc', 'instance-id'), `${droplet.id}\n`);
      const local: Local = { config: localConfig(bootstrap.config, dir, droplet.id, options) };
      droplets.set(droplet.id, local);
      start(droplet.id, local);
    },
    async onDelete(droplet) {
      await powerCut(droplet.id);
      droplets.delete(droplet.id);
      rmSync(dirOf(droplet.id), { recursive: true, force: true });
      log(`droplet ${droplet.id}: deleted`);
    },
    async onStatusChange(droplet, from) {
      const local = droplets.get(droplet.id);
      if (!local) return;
      if (droplet.status === 'off' && from === 'active') await powerCut(droplet.id);
      if (droplet.status === 'active' && from === 'off') start(droplet.id, local);
    },
    running: () =>
      [...droplets].filter(([, l]) => l.child && l.child.exitCode === null && l.child.signalCode === null).map(([id]) => id),
    dirOf,
    async stopAll() {
      for (const id of [...droplets.keys()]) {
        await powerCut(id);
        rmSync(dirOf(id), { recursive: true, force: true });
      }
      droplets.clear();
    },
  };
}

const scopeOf = (dropletId: number) => `d${dropletId}`;

function spawnAgent(options: LocalDropletsOptions, dir: string, config: Record<string, unknown>): ChildProcess {
  const configPath = join(dir, 'etc', 'agent.json');
  writeFileSync(configPath, JSON.stringify(config), { mode: 0o600 });
  const argv = options.agentCommand ?? [process.execPath, '--import', 'tsx', AGENT_MAIN];
  const child = spawn(argv[0]!, [...argv.slice(1), '--config', configPath], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', NO_PROXY: '*' },
  });
  child.stderr!.resume();
  return child;
}

function localConfig(
  config: Record<string, unknown>,
  dir: string,
  dropletId: number,
  options: LocalDropletsOptions,
): Record<string, unknown> {
  return {
    ...config,
    stateDir: join(dir, 'state'),
    installDir: join(dir, 'install'),
    hostnameFile: join(dir, 'etc', 'hostname'),
    instanceIdFile: join(dir, 'etc', 'instance-id'),
    runtimes: options.runtimes ?? ['process'],
    dockerScope: scopeOf(dropletId),
    ...(options.dockerSocket ? { dockerSocket: options.dockerSocket } : {}),
    ...(options.heartbeatIntervalMs ? { heartbeatIntervalMs: options.heartbeatIntervalMs } : {}),
  };
}

/** Kills the tools the agent's process runtime started (their pids are in its records). */
function killTools(stateDir: string): void {
  let ids: string[];
  try {
    ids = readdirSync(join(stateDir, 'tools'));
  } catch {
    return;
  }
  for (const id of ids) {
    try {
      const { pid } = JSON.parse(readFileSync(join(stateDir, 'tools', id, 'tool.json'), 'utf8')) as { pid?: number };
      if (pid) killGroup(pid);
    } catch {
      // No record or no process: nothing to kill.
    }
  }
}

function killGroup(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
