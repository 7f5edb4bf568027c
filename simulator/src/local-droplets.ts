/**
 * Local droplets: a plug-in for the simulator's hooks that boots each droplet as a real
 * droplet-agent process on this machine, from the droplet's own cloud-init user_data — the
 * same document a real droplet runs: the agent release its user_data pins is downloaded from
 * that URL (the controller), checked against the pinned SHA-256 and run with plain `node`,
 * as the install script does on a droplet (never the workspace source). Each droplet gets a directory of its own standing in for
 * its disk (agent state, installs, `/etc/hostname`, cloud-init's instance id).
 *
 * - boot (new → active): the release is installed, then the agent starts with the config
 *   the document writes, its paths moved into the droplet's directory; a release whose hash
 *   does not match is not run (logged, as the install script would stop);
 * - power off: the agent and every tool it started are killed, as a power cut would;
 *   power on: the agent starts again on the same disk; a power cycle or reboot of an active
 *   droplet does both;
 * - delete: the same, and the droplet's directory and containers are removed.
 *
 * Their public IPv4 is 127.0.0.1 (the `publicIpv4` hook): they run on this machine and share
 * its network, so that is where their tools answer. Their containers carry a scope of their
 * own (`toolbelt.scope`), unique to this plug-in instance, so two controllers sharing one
 * engine never see — or remove — each other's containers.
 *
 * Nothing a local droplet runs outlives the controller that started it, and no droplet ever
 * finds another's disk: simulator droplet ids start again at the same number in every
 * simulator, so each plug-in instance names its directories `ROOT/<life>-<DROPLET_ID>/` with a
 * nonce of its own (a new droplet never reuses an old disk or its stale credential), records
 * each agent's pid there, and on creation sweeps `ROOT`: whatever a previous life left (its
 * controller killed before it could stop them) is killed — agents and the tools in their
 * records — and removed. A graceful stop (`stopAll`) does the same for its own droplets.
 *
 * A document that is not a toolbelt bootstrap is recorded and ignored.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AGENT_RELEASE_FILE, type AgentBootstrap, extractAgentBootstrap, RELEASE_DOWNLOAD_RETRY_MS } from '@toolbelt/schema/cloud-init';
import { removeScopedContainers } from './local-containers.ts';
import type { SimulatorHooks } from './hooks.ts';
import type { DropletInfo, DropletStatus } from './model.ts';

export interface LocalDropletsOptions {
  /** Where each droplet's directory is made (`ROOT/<life>-<DROPLET_ID>/`); leftovers there are swept at creation. */
  root: string;
  /** The `node` that runs the agent release (default: the one running this process). */
  node?: string;
  /** The npm the local agents install npm tools with (default: `npm` on this machine's PATH). */
  npmCommand?: string;
  /** Runtimes the local agents may use (default: process only). */
  runtimes?: readonly ('docker' | 'process')[];
  /** The Docker Engine API socket the local agents share (docker runtime). */
  dockerSocket?: string;
  /** Heartbeat interval for local agents (default: what the document says). */
  heartbeatIntervalMs?: number;
  /** The local agents' reconnect backoff (default: the agent's, 1 s doubling to 60 s). */
  reconnect?: { initialDelayMs: number; maxDelayMs: number };
  /** Where the plug-in reports what it does (one line each). */
  log?: (line: string) => void;
  /**
   * How long a booting droplet keeps trying to download its agent release while the
   * controller serving it is unreachable (default: the install script's, 10 minutes).
   */
  releaseRetryMs?: number;
}

/** The simulator hooks local droplets answer: a `SimulatorHooks` to pass to `startSimulator`. */
export type LocalDropletHooks = Pick<LocalDroplets, 'onBoot' | 'onDelete' | 'onStatusChange' | 'onRestart' | 'publicIpv4'> & SimulatorHooks;

export interface LocalDroplets {
  /** The simulator's hooks these droplets answer (pass them to `startSimulator`). */
  hooks: LocalDropletHooks;
  /** Installs the pinned release and starts the agent (resolves once it runs, or will not). */
  onBoot(droplet: DropletInfo): Promise<void>;
  onDelete(droplet: DropletInfo): Promise<void>;
  onStatusChange(droplet: DropletInfo, from: DropletStatus): Promise<void>;
  /** A power cycle or reboot of an active droplet: the agent and its tools stop and the agent starts again. */
  onRestart(droplet: DropletInfo): Promise<void>;
  /** The public IPv4 of a local droplet (the simulator's `publicIpv4` hook): 127.0.0.1. */
  publicIpv4(droplet: { id: number }): string;
  /** The `toolbelt.scope` label of a droplet's containers (docker runtime). */
  dockerScopeOf(dropletId: number): string;
  /** Droplet ids whose agent process is running. */
  running(): number[];
  /** The pid of a droplet's agent process while it runs (what a test kills to silence it). */
  agentPid(dropletId: number): number | undefined;
  /** The directory standing in for a droplet's disk. */
  dirOf(dropletId: number): string;
  /** Kills every agent and tool and removes every droplet directory and container. */
  stopAll(): Promise<void>;
}

interface Local {
  config: Record<string, unknown>;
  /** The installed release file; undefined when it could not be installed. */
  release: Promise<string | undefined>;
  /** Stops the release download: the droplet is gone. */
  abort: AbortController;
  child?: ChildProcess;
}

export function createLocalDroplets(options: LocalDropletsOptions): LocalDroplets {
  const log = options.log ?? (() => {});
  const droplets = new Map<number, Local>();
  const { dirOf, endLife } = newLife(options.root, log);
  const scopeOf = scopeNamer();
  const start = async (id: number, local: Local) => {
    const release = await local.release;
    // Deleted, or started by a power cycle meanwhile: nothing to do.
    if (!release || droplets.get(id) !== local || alive(local.child)) return;
    local.child = spawnAgent(options, dirOf(id), release, local.config);
    local.child.once('exit', (code, signal) => log(`droplet ${id}: agent exited (${signal ?? code})`));
    log(`droplet ${id}: agent started (pid ${local.child.pid})`);
  };

  const where = (id: number) => ({ dir: dirOf(id), scope: scopeOf(id) });
  const powerCut = (id: number, how: { forGood?: boolean } = {}) => cutPower(options, where(id), droplets.get(id), how);

  const hooks: LocalDropletHooks = {
    async onBoot(droplet) {
      const local = bootLocal(options, where(droplet.id), droplet, (line) => log(`droplet ${droplet.id}: ${line}`));
      if (!local) {
        log(`droplet ${droplet.id}: user_data is not a toolbelt bootstrap; nothing to run`);
        return;
      }
      droplets.set(droplet.id, local);
      await start(droplet.id, local);
    },
    async onDelete(droplet) {
      await powerCut(droplet.id, { forGood: true });
      droplets.delete(droplet.id);
      await removeDisk(dirOf(droplet.id));
      log(`droplet ${droplet.id}: deleted`);
    },
    async onStatusChange(droplet, from) {
      const local = droplets.get(droplet.id);
      if (!local) return;
      if (droplet.status === 'off' && from === 'active') await powerCut(droplet.id);
      if (droplet.status === 'active' && from === 'off') await start(droplet.id, local);
    },
    async onRestart(droplet) {
      const local = droplets.get(droplet.id);
      if (!local) return;
      await powerCut(droplet.id);
      log(`droplet ${droplet.id}: restarted`);
      await start(droplet.id, local);
    },
    publicIpv4: () => '127.0.0.1',
  };
  return {
    ...hooks,
    hooks,
    dockerScopeOf: scopeOf,
    running: () => [...droplets].filter(([, l]) => alive(l.child)).map(([id]) => id),
    agentPid: (id) => (alive(droplets.get(id)?.child) ? droplets.get(id)!.child!.pid : undefined),
    dirOf,
    async stopAll() {
      for (const id of [...droplets.keys()]) await powerCut(id, { forGood: true }).then(() => removeDisk(dirOf(id)));
      droplets.clear();
      endLife();
    },
  };
}

/** This plug-in instance's name for its droplet directories, after sweeping what dead ones left. */
function newLife(root: string, log: (line: string) => void): { dirOf: (id: number) => string; endLife: () => void } {
  const life = randomBytes(4).toString('hex');
  sweepLeftovers(root, life, log);
  return { dirOf: (id) => join(root, `${life}-${id}`), endLife: () => rmSync(join(root, `${life}${OWNER_SUFFIX}`), { force: true }) };
}

/** Where a droplet's directory records its agent's pid (its process group), for a later life's sweep. */
const AGENT_PID_FILE = 'agent.pid';

/**
 * Kills what droplet directories under `root` left running — each agent's process group (its
 * recorded pid) and the tools in its records — and removes them, unless the plug-in instance
 * that made them still lives (`<life>.owner` holds its process id). Run when a plug-in
 * instance is created: a controller killed outright (SIGKILL, a crash) could not stop its
 * droplets, and its successor must not meet them.
 */
function sweepLeftovers(root: string, life: string, log: (line: string) => void): void {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    names = [];
  }
  const owners = new Map(names.filter((n) => n.endsWith(OWNER_SUFFIX)).map((n) => [n.slice(0, -OWNER_SUFFIX.length), Number(readFileSafe(join(root, n)))]));
  const living = (owner: string | undefined) => owner !== undefined && processAlive(owners.get(owner));
  for (const name of names) {
    if (name.endsWith(OWNER_SUFFIX)) {
      if (!living(name.slice(0, -OWNER_SUFFIX.length))) rmSync(join(root, name), { force: true });
      continue;
    }
    if (living(name.split('-')[0])) continue;
    const dir = join(root, name);
    const pid = Number(readFileSafe(join(dir, 'etc', AGENT_PID_FILE)));
    if (Number.isInteger(pid) && pid > 1) killGroup(pid);
    killTools(join(dir, 'state'));
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    log(`droplet directory ${name} was left by an earlier controller: its agent and tools killed, the directory removed`);
  }
  mkdirSync(root, { recursive: true, mode: 0o700 });
  writeFileSync(join(root, `${life}${OWNER_SUFFIX}`), String(process.pid));
}

const OWNER_SUFFIX = '.owner';

function processAlive(pid: number | undefined): boolean {
  if (!pid || !Number.isInteger(pid)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Kills a droplet's agent and every tool it started, as a power cut would. */
/** Stops the droplet's agent and tools; for good (the droplet is deleted) also its release download. */
async function cutPower(options: LocalDropletsOptions, where: { dir: string; scope: string }, local: Local | undefined, how: { forGood?: boolean }): Promise<void> {
  if (how.forGood) local?.abort.abort();
  if (local?.child && alive(local.child)) {
    const exited = new Promise((resolve) => local.child!.once('exit', resolve));
    // The agent's whole process group: what it ran itself (an npm install, say) dies with it.
    // Its tools run in groups of their own, found by killTools.
    killGroup(local.child.pid!);
    await exited;
  }
  killTools(join(where.dir, 'state'));
  if (options.dockerSocket) await removeScopedContainers(options.dockerSocket, where.scope).catch(() => {});
}

/**
 * A booting droplet: its disk as cloud-init would leave it (hostname, instance id, room for
 * the agent) and the agent's config from its user_data; undefined without a toolbelt bootstrap.
 */
function bootLocal(
  options: LocalDropletsOptions,
  where: { dir: string; scope: string },
  droplet: DropletInfo,
  log: (line: string) => void,
): Local | undefined {
  const bootstrap = droplet.userData ? extractAgentBootstrap(droplet.userData) : undefined;
  if (!bootstrap) return undefined;
  for (const sub of ['etc', 'state', 'install']) mkdirSync(join(where.dir, sub), { recursive: true, mode: 0o700 });
  writeFileSync(join(where.dir, 'etc', 'hostname'), `${droplet.name}\n`);
  writeFileSync(join(where.dir, 'etc', 'instance-id'), `${droplet.id}\n`);
  const abort = new AbortController();
  const retry = { deadline: Date.now() + (options.releaseRetryMs ?? RELEASE_DOWNLOAD_RETRY_MS), signal: abort.signal };
  const release = installRelease(join(where.dir, 'install'), bootstrap.release, retry, log).catch((error: Error) => {
    log(`installing the agent release failed: ${error.message}`);
    return undefined;
  });
  return { config: localConfig(bootstrap.config, where, options), release, abort };
}

/**
 * What the install script does with the release: download it from the pinned URL, check its
 * SHA-256, put it in `releases/VERSION/` and point `current` at it. Undefined on a mismatch.
 */
async function installRelease(
  installDir: string,
  pin: AgentBootstrap['release'],
  retry: Retry,
  log: (line: string) => void,
): Promise<string | undefined> {
  const code = await download(pin.url, retry, log);
  const got = createHash('sha256').update(code).digest('hex');
  if (got !== pin.sha256) {
    log(`FAILED: the agent release from ${pin.url} has SHA-256 ${got}, not the pinned ${pin.sha256}; not installing it`);
    return undefined;
  }
  const dir = join(installDir, 'releases', pin.version);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, AGENT_RELEASE_FILE), code);
  const link = join(installDir, `current.${process.pid}.tmp`);
  await rm(link, { force: true });
  await symlink(dir, link);
  await rename(link, join(installDir, 'current'));
  log(`agent ${pin.version} installed (sha256 ${got})`);
  return join(installDir, 'current', AGENT_RELEASE_FILE);
}

interface Retry {
  /** Epoch ms after which no new attempt starts. */
  deadline: number;
  signal: AbortSignal;
}

/**
 * GET, retried like the install script's `curl --retry-all-errors --retry-max-time`: on a
 * refused connection, an answer that broke off, 408, 429 and 5xx, with a delay doubling from
 * 0.5 s to 5 s, until the deadline. Unlike curl it gives up at once on another 4xx (nothing
 * the controller serves heals one). Stops when the droplet is deleted.
 */
async function download(url: string, retry: Retry, log: (line: string) => void): Promise<Buffer> {
  for (let attempt = 0; ; attempt += 1) {
    const answer = await get(url, retry.signal);
    if (Buffer.isBuffer(answer)) return answer;
    const problem = answer.problem;
    const delay = Math.min(500 * 2 ** attempt, 5_000);
    if (Date.now() + delay > retry.deadline) throw new Error(`${problem}; gave up after ${attempt + 1} attempts`);
    if (attempt === 0) log(`${problem}; retrying until the controller answers`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** One GET: the body, or what went wrong if it is worth another try; throws when it is not. */
async function get(url: string, signal: AbortSignal): Promise<Buffer | { problem: string }> {
  let res: Response;
  try {
    res = await fetch(url, { signal });
  } catch (error) {
    if (signal.aborted) throw new Error(`GET ${url} stopped: the droplet was deleted`, { cause: error });
    if (!(error instanceof TypeError)) throw error; // fetch's network failures are TypeErrors
    return { problem: `GET ${url} failed: ${(error.cause as Error | undefined)?.message ?? error.message}` };
  }
  if (res.ok) {
    try {
      return Buffer.from(await res.arrayBuffer());
    } catch (error) {
      // The body broke off (the controller died while sending it): worth another try.
      if (signal.aborted) throw new Error(`GET ${url} stopped: the droplet was deleted`, { cause: error });
      return { problem: `GET ${url}: the answer broke off (${(error as Error).message})` };
    }
  }
  const problem = `GET ${url} answered ${res.status}`;
  if (res.status >= 500 || res.status === 408 || res.status === 429) return { problem };
  throw new Error(problem);
}

/**
 * Names the containers' scope of each droplet. Droplet ids repeat across simulators (each
 * counts from the same first id): a nonce per plug-in keeps two controllers on one engine apart.
 */
function scopeNamer(): (dropletId: number) => string {
  const nonce = randomBytes(4).toString('hex');
  return (dropletId) => `d${dropletId}-${nonce}`;
}

/**
 * Removes a droplet's directory; retried while a process that is dying still writes in it.
 * WARNING: asynchronous on purpose — a droplet's disk holds whole npm trees, and a synchronous
 * removal (with its retries) stalled the controller sharing this process for seconds.
 */
async function removeDisk(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
}

const alive = (child: ChildProcess | undefined) => child !== undefined && child.exitCode === null && child.signalCode === null;

function spawnAgent(options: LocalDropletsOptions, dir: string, release: string, config: Record<string, unknown>): ChildProcess {
  const configPath = join(dir, 'etc', 'agent.json');
  writeFileSync(configPath, JSON.stringify(config), { mode: 0o600 });
  // Plain node on the release, in the droplet's directory: nothing of this repository is in reach.
  const child = spawn(options.node ?? process.execPath, [release, '--config', configPath], {
    cwd: dir,
    detached: true, // a process group of its own, killed whole by a power cut
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', NO_PROXY: '*' },
  });
  child.stderr!.resume();
  // For the sweep of a later life, should this one's controller die without stopping it.
  writeFileSync(join(dir, 'etc', AGENT_PID_FILE), String(child.pid));
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
    ...(options.reconnect ? { reconnect: options.reconnect } : {}),
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
