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
 * Their public IPv4 is 127.0.0.1 (the `publicIpv4` hook): they run on this machine and share
 * its network, so that is where their tools answer. Their containers carry a scope of their
 * own (`toolbelt.scope`), unique to this plug-in instance, so two controllers sharing one
 * engine never see — or remove — each other's containers.
 *
 * A document that is not a toolbelt bootstrap is recorded and ignored.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
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
  /** The npm the local agents install npm tools with (default: `npm` on this machine's PATH). */
  npmCommand?: string;
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
  /** The public IPv4 of a local droplet (the simulator's `publicIpv4` hook): 127.0.0.1. */
  publicIpv4(droplet: { id: number }): string;
  /** The `toolbelt.scope` label of a droplet's containers (docker runtime). */
  dockerScopeOf(dropletId: number): string;
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
  const scopeOf = scopeNamer();

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
      prepareDisk(dir, droplet);
      const local: Local = { config: localConfig(bootstrap.config, { dir, scope: scopeOf(droplet.id) }, options) };
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
    publicIpv4: () => '127.0.0.1',
    dockerScopeOf: scopeOf,
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

/** The droplet's directory as cloud-init would leave its disk: hostname, instance id, room for the agent. */
function prepareDisk(dir: string, droplet: DropletInfo): void {
  for (const sub of ['etc', 'state', 'install']) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, 'etc', 'hostname'), `${droplet.name}\n`);
  writeFileSync(join(dir, 'etc', 'instance-id'), `${droplet.id}\n`);
}

/**
 * Names the containers' scope of each droplet. Droplet ids repeat across simulators (each
 * counts from the same first id): a nonce per plug-in keeps two controllers on one engine apart.
 */
function scopeNamer(): (dropletId: number) => string {
  const nonce = randomBytes(4).toString('hex');
  return (dropletId) => `d${dropletId}-${nonce}`;
}

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
  { dir, scope }: { dir: string; scope: string },
  options: LocalDropletsOptions,
): Record<string, unknown> {
  return {
    ...config,
    stateDir: join(dir, 'state'),
    installDir: join(dir, 'install'),
    hostnameFile: join(dir, 'etc', 'hostname'),
    instanceIdFile: join(dir, 'etc', 'instance-id'),
    runtimes: options.runtimes ?? ['process'],
    // The droplet's npm lives under /opt/toolbelt/node there; here it is this machine's.
    npm: { ...(config.npm as Record<string, unknown> | undefined), command: options.npmCommand ?? 'npm' },
    dockerScope: scope,
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
