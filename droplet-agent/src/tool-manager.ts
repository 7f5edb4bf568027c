/**
 * The tool manager: the agent's view of its tools across runtimes. It applies tool
 * commands (idempotent by tool generation, one at a time per tool), builds status reports
 * from what the runtimes observe, and emits a `tool_status` whenever a report changes.
 */
import type { Clock } from '@toolbelt/schema/clock';
import { ToolbeltError } from '@toolbelt/schema/errors';
import {
  AGENT_ERROR_CODES,
  type CommandOf,
  type LogLine,
  type ToolCommand,
  type ToolSpec,
  type ToolStatusReport,
} from '@toolbelt/schema/protocol';
import type { ToolCapabilities } from '@toolbelt/schema/types';
import { assertNoReservedEnv } from './runtimes/env.ts';
import type { Logger } from './log.ts';
import { SecretMask } from './masking.ts';
import type { ProgressFn, Runtime, RuntimeKind, SecretEnv, ToolRecord } from './runtimes/types.ts';

export interface ToolHealth {
  status: 'healthy' | 'unhealthy' | 'unknown';
  checkedAt?: string;
  message?: string;
}

interface ManagedTool {
  runtime: Runtime;
  record: ToolRecord;
  health: ToolHealth;
  capabilities?: ToolCapabilities;
  lastReport?: string;
}

/** What a command did, for its `done` result. */
export interface CommandOutcome {
  message: string;
  duplicate?: boolean;
  tool?: ToolStatusReport;
  logs?: { lines: LogLine[]; truncated: boolean };
}

export interface ToolManagerOptions {
  runtimes: Runtime[];
  fetchSecrets: (toolInstanceId: string, names: string[]) => Promise<SecretEnv>;
  /** Masks the tools' secret values in everything reported (default: a mask that knows none). */
  mask?: SecretMask;
  emit: (report: ToolStatusReport) => void;
  clock: Clock;
  log: Logger;
}

const DEFAULT_STOP_TIMEOUT_MS = 30_000;
/** Stands for the output of a tool whose secrets the agent cannot mask yet. */
export const WITHHELD = "output withheld: the agent does not hold this tool's secrets since it restarted, so it cannot mask them yet";

function fail(code: string, message: string, hint?: string): never {
  throw new ToolbeltError(code, message, hint ? { hint } : {});
}

/** The runtime kind a spec runs on. */
export function runtimeKindOf(spec: ToolSpec): RuntimeKind {
  return spec.packagingType === 'docker_image' ? 'docker' : 'process';
}

export class ToolManager {
  readonly #tools = new Map<string, ManagedTool>();
  readonly #queues = new Map<string, Promise<unknown>>();
  readonly #o: ToolManagerOptions;
  readonly #mask: SecretMask;

  constructor(options: ToolManagerOptions) {
    this.#o = options;
    this.#mask = options.mask ?? new SecretMask();
  }

  get size(): number {
    return this.#tools.size;
  }

  /** One managed tool (for the gateway's sessions), or undefined. */
  get(toolInstanceId: string): Readonly<ManagedTool> | undefined {
    return this.#tools.get(toolInstanceId);
  }

  /** The managed tools (for the health monitor). */
  entries(): [string, ManagedTool][] {
    return [...this.#tools.entries()];
  }

  /**
   * Rebuilds the tool table from the runtimes themselves: what they report is what exists
   * (a tool removed behind the agent's back disappears; one with a command in flight stays).
   */
  async discover(): Promise<void> {
    const seen = new Set<string>();
    for (const runtime of this.#o.runtimes) {
      for (const record of await runtime.discover()) {
        seen.add(record.toolInstanceId);
        const known = this.#tools.get(record.toolInstanceId);
        this.#tools.set(record.toolInstanceId, {
          runtime,
          record,
          health: known?.health ?? { status: 'unknown' },
          ...(known?.capabilities ? { capabilities: known.capabilities } : {}),
        });
      }
    }
    for (const id of this.#tools.keys()) if (!seen.has(id) && !this.#queues.has(id)) this.#tools.delete(id);
  }

  /** Called by a runtime when a tool's observed state changed. */
  onRuntimeChange(toolInstanceId: string): void {
    void this.emitIfChanged(toolInstanceId).catch((error: Error) =>
      this.#o.log.warn('could not report a tool status', { toolInstanceId, error: error.message }),
    );
  }

  /** Sends a tool_status when the tool's report differs from the last one sent. */
  async emitIfChanged(toolInstanceId: string): Promise<void> {
    const tool = this.#tools.get(toolInstanceId);
    if (!tool) return;
    const report = await this.report(toolInstanceId);
    const { health, capabilities, ...rest } = report;
    const key = JSON.stringify({ ...rest, health: health.status, tools: capabilities?.tools.length });
    if (key === tool.lastReport) return;
    tool.lastReport = key;
    this.#o.emit(report);
  }

  /** Records a health result and reports it if it changed anything. */
  setHealth(toolInstanceId: string, health: ToolHealth, capabilities?: ToolCapabilities): void {
    const tool = this.#tools.get(toolInstanceId);
    if (!tool) return;
    tool.health = health;
    if (capabilities) tool.capabilities = capabilities;
    this.onRuntimeChange(toolInstanceId);
  }

  /** The observed status of one tool, rebuilt from its runtime now. */
  async report(toolInstanceId: string): Promise<ToolStatusReport> {
    const tool = this.#tools.get(toolInstanceId);
    if (!tool) fail(AGENT_ERROR_CODES.unknownTool, `no tool ${toolInstanceId} on this droplet`);
    const observed = await tool.runtime.observe(toolInstanceId);
    const troubled = observed.state === 'error' || observed.state === 'crash_loop';
    const lastLogLines = troubled ? await this.#maskedTail(tool, toolInstanceId, 20) : undefined;
    const mask = (text: string) => this.#mask.text(text);
    const health = observed.state === 'running' ? tool.health : { status: 'unknown' as const };
    return {
      toolInstanceId,
      instanceName: tool.record.spec.instanceName,
      generation: tool.record.generation,
      runtime: tool.runtime.kind,
      state: observed.state,
      endpoints: observed.endpoints,
      health: health.message === undefined ? health : { ...health, message: mask(health.message) },
      ...(tool.capabilities ? { capabilities: tool.capabilities } : {}),
      ...(observed.lastExit ? { lastExit: observed.lastExit } : {}),
      restarts: observed.restarts,
      ...(observed.reason ? { reason: mask(observed.reason) } : {}),
      ...(lastLogLines ? { lastLogLines } : {}),
      ...(observed.runtimeId ? { runtimeId: observed.runtimeId } : {}),
    };
  }

  /**
   * The tool's last output lines with its secrets masked — or, when the agent does not hold
   * the values of the tool's secrets (it restarted and adopted the tool), one line saying the
   * output is withheld, while the values are fetched for the next report.
   */
  async #maskedTail(tool: ManagedTool, toolInstanceId: string, n: number): Promise<LogLine[] | undefined> {
    const names = tool.record.spec.secretEnv;
    if (!this.#mask.canMask(toolInstanceId, names)) {
      void this.#o.fetchSecrets(toolInstanceId, [...names]).then(
        () => this.onRuntimeChange(toolInstanceId),
        () => {},
      );
      return [{ at: new Date(this.#o.clock.now()).toISOString(), stream: 'agent', text: WITHHELD }];
    }
    const logs = await tool.runtime.logs(toolInstanceId, n).catch(() => undefined);
    return logs ? this.#mask.lines(logs.lines) : undefined;
  }

  /** Reports of every tool. */
  async inventory(): Promise<ToolStatusReport[]> {
    const reports: ToolStatusReport[] = [];
    for (const id of this.#tools.keys()) reports.push(await this.report(id));
    return reports;
  }

  /** Applies a tool command; commands of one tool run one after another. */
  apply(command: ToolCommand, progress: ProgressFn): Promise<CommandOutcome> {
    const id = command.toolInstanceId;
    const previous = this.#queues.get(id) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => this.#apply(command, progress));
    this.#queues.set(id, next);
    void next.finally(() => {
      if (this.#queues.get(id) === next) this.#queues.delete(id);
    }).catch(() => {});
    return next;
  }

  async #apply(command: ToolCommand, progress: ProgressFn): Promise<CommandOutcome> {
    switch (command.commandType) {
      case 'install':
      case 'configure':
        return this.#install(command, progress);
      case 'start':
        return this.#start(command);
      case 'stop':
        return this.#stop(command);
      case 'uninstall':
        return this.#uninstall(command);
      case 'get_logs':
        return this.#logs(command);
    }
  }

  #checkGeneration(tool: ManagedTool, command: ToolCommand, allowAhead: boolean): void {
    const have = tool.record.generation;
    if (command.generation < have) {
      fail(
        AGENT_ERROR_CODES.staleGeneration,
        `${command.commandType} is for generation ${command.generation} but tool ${command.toolInstanceId} is at ${have}`,
        'a newer command superseded this one; nothing was changed',
      );
    }
    if (!allowAhead && command.generation > have) {
      fail(
        AGENT_ERROR_CODES.generationAhead,
        `${command.commandType} is for generation ${command.generation} but tool ${command.toolInstanceId} is at ${have}`,
        'send configure with the new spec first',
      );
    }
  }

  #runtimeFor(spec: ToolSpec): Runtime {
    const kind = runtimeKindOf(spec);
    const runtime = this.#o.runtimes.find((r) => r.kind === kind);
    if (!runtime) {
      fail(AGENT_ERROR_CODES.runtimeUnavailable, `this droplet has no ${kind} runtime for ${spec.packagingType} tools`);
    }
    return runtime;
  }

  async #install(command: CommandOf<'install'> | CommandOf<'configure'>, progress: ProgressFn): Promise<CommandOutcome> {
    const id = command.toolInstanceId;
    const existing = this.#tools.get(id);
    if (!existing && command.commandType === 'configure') {
      fail(AGENT_ERROR_CODES.unknownTool, `no tool ${id} to configure on this droplet`, 'send install first');
    }
    if (existing) {
      this.#checkGeneration(existing, command, true);
      const state = (await existing.runtime.observe(id)).state;
      if (command.generation === existing.record.generation && state !== 'installing' && state !== 'error') {
        return { message: `generation ${command.generation} is already applied`, duplicate: true, tool: await this.report(id) };
      }
    }
    const spec = command.payload.tool;
    // Whatever the controller says: no loader or interpreter hooks, nothing over the agent's own.
    assertNoReservedEnv(spec);
    const runtime = this.#runtimeFor(spec);
    if (existing && existing.runtime !== runtime) await existing.runtime.remove(id, DEFAULT_STOP_TIMEOUT_MS);
    const record: ToolRecord = { toolInstanceId: id, generation: command.generation, spec, desired: existing?.record.desired ?? 'stopped' };
    const secrets = runtime.kind === 'docker' ? await this.#secretsFor(id, spec) : {};
    this.#tools.set(id, { runtime, record, health: { status: 'unknown' } });
    await runtime.install(record, secrets, progress);
    return { message: `installed generation ${command.generation}`, tool: await this.report(id) };
  }

  async #secretsFor(id: string, spec: ToolSpec): Promise<SecretEnv> {
    const names = [...spec.secretEnv, ...(spec.registryAuthSecret ? [spec.registryAuthSecret] : [])];
    return this.#o.fetchSecrets(id, names);
  }

  #existing(command: ToolCommand): ManagedTool {
    const tool = this.#tools.get(command.toolInstanceId);
    if (!tool) {
      fail(AGENT_ERROR_CODES.unknownTool, `no tool ${command.toolInstanceId} on this droplet`, 'send install first');
    }
    return tool;
  }

  async #start(command: CommandOf<'start'>): Promise<CommandOutcome> {
    const tool = this.#existing(command);
    this.#checkGeneration(tool, command, false);
    const id = command.toolInstanceId;
    if ((await tool.runtime.observe(id)).state === 'running') {
      tool.record.desired = 'running';
      return { message: 'already running', duplicate: true, tool: await this.report(id) };
    }
    const secrets = tool.runtime.kind === 'process' ? await this.#o.fetchSecrets(id, tool.record.spec.secretEnv) : {};
    // A new process or container: what was checked of the previous one says nothing about it.
    tool.health = { status: 'unknown' };
    await tool.runtime.start(id, secrets);
    tool.record.desired = 'running';
    return { message: 'started', tool: await this.report(id) };
  }

  async #stop(command: CommandOf<'stop'>): Promise<CommandOutcome> {
    const tool = this.#tools.get(command.toolInstanceId);
    if (!tool) return { message: 'not installed; nothing to stop', duplicate: true };
    this.#checkGeneration(tool, command, true);
    tool.health = { status: 'unknown' };
    await tool.runtime.stop(command.toolInstanceId, command.payload.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS);
    tool.record.desired = 'stopped';
    return { message: 'stopped', tool: await this.report(command.toolInstanceId) };
  }

  async #uninstall(command: CommandOf<'uninstall'>): Promise<CommandOutcome> {
    const tool = this.#tools.get(command.toolInstanceId);
    if (!tool) return { message: 'not installed', duplicate: true };
    this.#checkGeneration(tool, command, true);
    await tool.runtime.remove(command.toolInstanceId, command.payload.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS);
    this.#tools.delete(command.toolInstanceId);
    this.#mask.forget(command.toolInstanceId);
    return { message: 'uninstalled' };
  }

  async #logs(command: CommandOf<'get_logs'>): Promise<CommandOutcome> {
    const tool = this.#existing(command);
    const names = tool.record.spec.secretEnv;
    // The values are needed to mask them; a command means the socket is up to fetch them.
    if (!this.#mask.canMask(command.toolInstanceId, names)) await this.#o.fetchSecrets(command.toolInstanceId, [...names]);
    const logs = await tool.runtime.logs(command.toolInstanceId, command.payload.tail);
    return { message: `${logs.lines.length} lines`, logs: { ...logs, lines: this.#mask.lines(logs.lines) } };
  }
}
