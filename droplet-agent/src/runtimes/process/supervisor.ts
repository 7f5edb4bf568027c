/**
 * One supervisor per process tool. It spawns the tool detached (its own session, so it
 * outlives the agent), records pid + start time, restarts it with exponential backoff when
 * it dies while it should run, and calls a run of quick deaths a crash loop. A restarted
 * agent *adopts* a live process from its record instead of starting a new one.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Clock } from '@toolbelt/schema/clock';
import { ToolbeltError } from '@toolbelt/schema/errors';
import { AGENT_ERROR_CODES, type ToolRuntimeState } from '@toolbelt/schema/protocol';
import { toolEnvironment } from '../env.ts';
import type { SecretEnv, SecretFetcher } from '../types.ts';
import { resolveBin } from './npm.ts';
import { isSameProcessAlive, procStat, signalGroup } from './procfs.ts';
import { type ProcessRecord, type ToolPaths, toolPaths, writeRecord } from './records.ts';
import { openToolEnds, StdioChannel } from './stdio.ts';

/** Restart pacing: delays double from `initialDelayMs` up to `maxDelayMs`. */
export interface RestartPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  /** A run shorter than this counts as a failure; a longer one resets the count. */
  stableAfterMs: number;
  /** This many failures in a row is a crash loop. */
  crashLoopAfter: number;
  /** How often an adopted process (not our child) is checked for life. */
  pollMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialDelayMs: 1000,
  maxDelayMs: 300_000,
  stableAfterMs: 10_000,
  crashLoopAfter: 3,
  pollMs: 1000,
};

export interface SupervisorOptions {
  stateDir: string;
  record: ProcessRecord;
  clock: Clock;
  restart: RestartPolicy;
  fetchSecrets: SecretFetcher;
  /** Called whenever the observed state changes. */
  onChange: () => void;
  log: (message: string) => void;
}

export class ProcessSupervisor {
  record: ProcessRecord;
  readonly paths: ToolPaths;
  #state: ToolRuntimeState;
  #reason: string | undefined;
  #failures = 0;
  #child: ChildProcess | undefined;
  #channel: StdioChannel | undefined;
  #secrets: SecretEnv | undefined;
  #exited: Promise<void> = Promise.resolve();
  #markExited: () => void = () => {};
  #restartAbort: AbortController | undefined;
  readonly #watchAbort = new AbortController();
  #closed = false;
  #writes: Promise<void> = Promise.resolve();
  readonly #o: SupervisorOptions;

  constructor(options: SupervisorOptions) {
    this.#o = options;
    this.record = options.record;
    this.paths = toolPaths(options.stateDir, options.record.toolInstanceId);
    this.#state = options.record.installed ? 'stopped' : 'installing';
  }

  get state(): ToolRuntimeState {
    return this.#state;
  }
  get reason(): string | undefined {
    return this.#reason;
  }
  get channel(): StdioChannel | undefined {
    return this.#channel;
  }

  /** Takes over after an agent (re)start: adopts a live process, or starts one if due. */
  async attach(): Promise<void> {
    const { pid, pidStartTime } = this.record;
    if (pid && pidStartTime !== undefined && (await isSameProcessAlive(pid, pidStartTime))) {
      this.#o.log(`adopted running process ${pid} of ${this.record.toolInstanceId}`);
      this.#beginRun();
      if (this.record.spec.transport === 'mcp-stdio') this.#channel = new StdioChannel(this.paths);
      void this.#pollAdopted(pid, pidStartTime);
      return;
    }
    if (!this.record.installed) {
      this.#setState('error', 'the install was interrupted; send install again');
      return;
    }
    if (pid) await this.#recordExit(null, null);
    if (this.record.desired === 'running') this.#scheduleStart(0);
  }

  /** Keeps secret values for restarts (memory only). */
  setSecrets(secrets: SecretEnv): void {
    this.#secrets = secrets;
  }

  /** Starts the tool unless it runs; `desired` becomes running. */
  /** The package is in place: an `installing` tool is now `stopped` (runnable). */
  markInstalled(): void {
    this.record.installed = true;
    if (this.#state === 'installing') this.#setState('stopped');
  }

  async start(): Promise<void> {
    this.record.desired = 'running';
    await this.persist();
    if (this.#child || this.#state === 'running') return;
    this.#restartAbort?.abort();
    this.#failures = 0;
    await this.#spawn();
    if (this.#state === 'error') {
      throw new ToolbeltError(AGENT_ERROR_CODES.startFailed, this.#reason ?? 'the tool did not start', {
        hint: 'the agent keeps retrying with backoff; fix the spec or its secrets',
      });
    }
  }

  /** Stops the tool (SIGTERM to its process group, SIGKILL after `timeoutMs`). */
  async stop(timeoutMs: number): Promise<void> {
    this.record.desired = 'stopped';
    this.#restartAbort?.abort();
    await this.persist();
    const { pid, pidStartTime } = this.record;
    if (!pid || pidStartTime === undefined || !(await isSameProcessAlive(pid, pidStartTime))) {
      this.#setState('stopped');
      return;
    }
    this.#setState('stopping');
    signalGroup(pid, 'SIGTERM');
    const killed = await this.#waitExit(timeoutMs);
    if (!killed) {
      this.#o.log(`${this.record.toolInstanceId} ignored SIGTERM for ${timeoutMs} ms; sending SIGKILL`);
      signalGroup(pid, 'SIGKILL');
      await this.#waitExit(10_000);
    }
    this.#setState('stopped');
  }

  async #waitExit(timeoutMs: number): Promise<boolean> {
    const abort = new AbortController();
    const timeout = this.#o.clock.sleep(timeoutMs, abort.signal).then(
      () => false,
      () => false,
    );
    const exited = this.#exited.then(() => true);
    const result = await Promise.race([exited, timeout]);
    abort.abort();
    return result;
  }

  /** Stops watching without touching the process (agent shutdown). */
  close(): void {
    this.#closed = true;
    this.#restartAbort?.abort();
    this.#watchAbort.abort();
    this.#channel?.close();
    this.#child?.removeAllListeners('exit');
    this.#child = undefined;
  }

  /** Writes the record; writes are serialised so a later one always wins. */
  persist(): Promise<void> {
    const snapshot = structuredClone(this.record);
    this.#writes = this.#writes.then(() => writeRecord(this.#o.stateDir, snapshot));
    return this.#writes;
  }

  #setState(state: ToolRuntimeState, reason?: string): void {
    if (this.#state === state && this.#reason === reason) return;
    this.#state = state;
    this.#reason = reason;
    this.#o.onChange();
  }

  #beginRun(): void {
    this.#exited = new Promise((resolve) => (this.#markExited = resolve));
    this.#setState('running');
  }

  async #spawn(): Promise<void> {
    this.#setState('starting');
    try {
      const secrets = await this.#secretsForStart();
      const command = await this.#command();
      await mkdir(this.paths.work, { recursive: true, mode: 0o700 });
      const child = this.#launch(command, secrets);
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
      await this.#recordStart(child);
    } catch (error) {
      this.#failures += 1;
      const delay = this.#delay();
      this.#setState('error', `could not start: ${(error as Error).message}; retrying in ${Math.round(delay / 1000)} s`);
      this.#scheduleStart(delay);
    }
  }

  async #secretsForStart(): Promise<SecretEnv> {
    const names = this.record.spec.secretEnv;
    if (names.length === 0) return {};
    this.#secrets ??= await this.#o.fetchSecrets(this.record.toolInstanceId, names);
    return this.#secrets;
  }

  async #command(): Promise<string[]> {
    const { spec } = this.record;
    const bin = await resolveBin(this.paths.pkg, spec.packageIdentifier, spec.bin);
    const head = await readFile(bin, 'utf8').then((text) => text.slice(0, 128), () => '');
    const isNode = /\.(c|m)?js$/.test(bin) || /^#!.*\bnode\b/.test(head);
    return isNode ? [process.execPath, bin, ...spec.args] : [bin, ...spec.args];
  }

  #launch(command: string[], secrets: SecretEnv): ChildProcess {
    const { spec } = this.record;
    const stdio = spec.transport === 'mcp-stdio' ? openToolEnds(this.paths) : undefined;
    const out = openSync(this.paths.stdoutLog, 'a', 0o600);
    const err = openSync(this.paths.stderrLog, 'a', 0o600);
    try {
      // The agent's own variables come last: no spec or secret overrides them (runtimes/env.ts).
      const env = toolEnvironment(spec, secrets, {
        PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
        HOME: this.paths.work,
        LANG: 'C.UTF-8',
        TOOLBELT_TOOL_INSTANCE_ID: this.record.toolInstanceId,
        TOOLBELT_TOOL_CONFIG: JSON.stringify(spec.config),
        // Where to listen: the port, and the address the controller chose (`hostIp`).
        ...(spec.ports[0] ? { PORT: String(spec.ports[0].port), HOST: spec.ports[0].hostIp } : {}),
      });
      const child = spawn(command[0]!, command.slice(1), {
        cwd: this.paths.work,
        env,
        detached: true,
        stdio: [stdio?.stdin ?? 'ignore', stdio?.stdout ?? out, err],
      });
      child.unref();
      child.on('error', () => {}); // reported through the spawn promise
      // The agent's own ends, opened while the tool's fds keep the FIFOs alive.
      if (stdio) this.#channel = new StdioChannel(this.paths);
      this.#child = child;
      child.once('exit', (code, signal) => void this.#onExit(code, signal));
      return child;
    } finally {
      for (const fd of [out, err, stdio?.stdin, stdio?.stdout]) if (fd !== undefined) closeSync(fd);
    }
  }

  async #recordStart(child: ChildProcess): Promise<void> {
    const pid = child.pid!;
    const stat = await procStat(pid);
    this.record.pid = pid;
    this.record.pidStartTime = stat?.startTime;
    this.record.startedAt = new Date(this.#o.clock.now()).toISOString();
    await this.persist();
    if (this.#child === child) this.#beginRun();
  }

  async #pollAdopted(pid: number, startTime: number): Promise<void> {
    while (!this.#closed) {
      try {
        await this.#o.clock.sleep(this.#o.restart.pollMs, this.#watchAbort.signal);
      } catch {
        return; // closed
      }
      if (!(await isSameProcessAlive(pid, startTime))) return this.#onExit(null, null);
    }
  }

  async #recordExit(code: number | null, signal: string | null): Promise<void> {
    this.record.lastExit = { code, signal, at: new Date(this.#o.clock.now()).toISOString() };
    this.record.pid = undefined;
    this.record.pidStartTime = undefined;
    await this.persist();
  }

  async #onExit(code: number | null, signal: string | null): Promise<void> {
    if (this.#closed) return;
    const ranMs = this.#o.clock.now() - Date.parse(this.record.startedAt ?? new Date(0).toISOString());
    this.#child = undefined;
    this.#channel?.close();
    this.#channel = undefined;
    await this.#recordExit(code, signal);
    this.#markExited();
    if (this.record.desired !== 'running') return this.#setState('stopped');
    this.#failures = ranMs < this.#o.restart.stableAfterMs ? this.#failures + 1 : 1;
    this.record.restarts += 1;
    await this.persist();
    const delay = this.#delay();
    const how = signal ? `was killed by ${signal}` : code === null ? 'is gone' : `exited with code ${code}`;
    const loop = this.#failures >= this.#o.restart.crashLoopAfter;
    this.#setState(
      loop ? 'crash_loop' : 'starting',
      `the process ${how} after ${Math.round(ranMs / 1000)} s; restart ${this.record.restarts} in ${Math.round(delay / 1000)} s`,
    );
    this.#scheduleStart(delay);
  }

  #delay(): number {
    const { initialDelayMs, maxDelayMs } = this.#o.restart;
    return Math.min(maxDelayMs, initialDelayMs * 2 ** Math.max(0, this.#failures - 1));
  }

  #scheduleStart(delayMs: number): void {
    this.#restartAbort?.abort();
    const abort = new AbortController();
    this.#restartAbort = abort;
    this.#o.clock.sleep(delayMs, abort.signal).then(
      () => {
        if (!this.#closed && this.record.desired === 'running') void this.#spawn();
      },
      () => {},
    );
  }
}
