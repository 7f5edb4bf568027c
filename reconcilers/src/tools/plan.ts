/**
 * What the tools diff (diff.ts) takes and returns — desired tool instances of one environment
 * against what its agent reports and the commands already sent → the commands to send, the
 * deliveries to record, each tool's status, the rows to delete — and its per-tool rules.
 * Pure; `index.ts` loads and acts.
 *
 * Rules, per tool instance:
 * - A delivery is what was last asked for: a wire generation (the protocol's `generation`)
 *   and the fingerprint of spec + secret versions it came from. A new fingerprint (spec
 *   edit, catalog change, secret rotated) takes the next wire generation, above anything the
 *   agent reports, so the agent never sees a stale generation.
 * - Not reported (new tool, or a replaced droplet whose agent reports an empty inventory)
 *   → `install`; reported at an older generation → `configure` (restarts it if it ran);
 *   current → `start`/`stop` towards `desired_state`; deletion requested → `uninstall`,
 *   and the row goes once the agent no longer reports it (or confirmed the uninstall).
 * - One open command per tool at a time. A failed command is sent again after an
 *   exponential backoff counted from the failures of that (type, generation), so retries
 *   survive restarts. Commands carry dedupe keys (type:tool:generation): a replay is never
 *   a second install.
 * - Nothing is sent while the agent is not connected; tools the agent reports that the
 *   store does not have are uninstalled.
 */
import type { Command, ToolDelivery, ToolInstance, ToolStatusPatch } from '@toolbelt/schema';
import type { ToolSpec, ToolStatusReport } from '@toolbelt/schema/protocol';

/** A tool instance with what the loader made of it. */
export interface ToolInput {
  tool: ToolInstance;
  /** The spec, or why none could be made. */
  spec: { ok: true; spec: ToolSpec } | { ok: false; reason: string };
  /** Fingerprint of spec + secret versions (when the spec is ok). */
  fingerprint: string;
  /** Secret names the tool refers to that the agent does not have. */
  missingSecrets: string[];
}

export interface Observation {
  report: ToolStatusReport;
  observedAt: number;
}

export interface ToolsDiffInput {
  tools: readonly ToolInput[];
  observed: ReadonlyMap<string, Observation>;
  /** Recent commands of the environment (any order). */
  commands: readonly Command[];
  /** The agent is connected and said hello (commands would reach it). */
  agentConnected: boolean;
  /**
   * The environment is being torn down (switched off, agent deleted, droplet deleting): the
   * lifecycle stops its tools itself before the droplet goes, so nothing is sent — above
   * all no `start` for a tool that has just been stopped on purpose.
   */
  windingDown?: boolean;
  /** The droplet's public IPv4 as last observed (endpoints are reported there); null if not known. */
  dropletAddress: string | null;
  now: number;
  retry: { baseMs: number; maxMs: number };
}

export type ToolCommandType = 'install' | 'configure' | 'start' | 'stop' | 'uninstall';

export interface PlannedCommand {
  toolInstanceId: string;
  type: ToolCommandType;
  generation: number;
  payload: Record<string, unknown>;
}

export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  toolInstanceId: string;
}

export interface ToolPlan {
  toolId: string;
  /** A new delivery to record before sending its command. */
  delivery?: ToolDelivery;
  command?: PlannedCommand;
  status: ToolStatusPatch;
  deleteRow: boolean;
}

export interface ToolsPlan {
  tools: ToolPlan[];
  /** Uninstalls of tools the agent runs that the store does not have. */
  /** Uninstalls of tools the agent runs that the store does not have (at most MAX_ORPHANS_PER_RECONCILE open). */
  orphans: PlannedCommand[];
  /** Orphans left for a later reconcile (the cap). */
  orphansLeft: number;
  /** At most MAX_EVENTS_PER_RECONCILE. */
  events: PlannedEvent[];
  /** Events left out by the cap. */
  eventsOmitted: number;
  requeueAfterMs?: number;
}

const OPEN = new Set(['queued', 'sent', 'accepted']);
const FAILED = new Set(['failed', 'timed_out']);
/** While a done command's effect has not shown in a report yet, look again after this… */
export const SETTLE_MS = 2_000;
/**
 * …for at most this long: a done command whose effect no report shows after that is not
 * in effect (e.g. the droplet was replaced and its new agent has nothing), so it is sent again.
 */
export const SETTLE_WINDOW_MS = 15_000;

/**
 * The delivery to use: the recorded one, or the next when the fingerprint changed. A spec
 * change the agent never sees (the desired state, the gateway's filters) keeps the wire
 * generation and only moves the recorded spec generation, so observed_generation catches up.
 */
export function nextDelivery(input: ToolInput, reported: number | undefined): { delivery: ToolDelivery; changed: boolean } {
  const previous = input.tool.delivery;
  if (previous && previous.fingerprint === input.fingerprint) {
    if (previous.specGeneration >= input.tool.generation) return { delivery: previous, changed: false };
    return { delivery: { ...previous, specGeneration: input.tool.generation }, changed: true };
  }
  const wireGeneration = Math.max(previous?.wireGeneration ?? 0, reported ?? 0) + 1;
  return { delivery: { wireGeneration, specGeneration: input.tool.generation, fingerprint: input.fingerprint }, changed: true };
}

/** Uninstall of a tool the agent still has (stop and uninstall accept newer generations). */
function uninstallOf(id: string, delivery: ToolDelivery, report: ToolStatusReport | undefined): PlannedCommand | undefined {
  if (report === undefined || report.state === 'uninstalled') return undefined;
  return { toolInstanceId: id, type: 'uninstall', generation: Math.max(delivery.wireGeneration, report.generation), payload: {} };
}

/** The command that moves the tool towards its spec, ignoring what is already in flight. */
export function wantedCommand(input: ToolInput, delivery: ToolDelivery, report: ToolStatusReport | undefined): PlannedCommand | undefined {
  const id = input.tool.id;
  if (input.tool.deletion_requested_at) return uninstallOf(id, delivery, report);
  const present = report !== undefined && report.state !== 'uninstalled';
  if (!input.spec.ok || input.missingSecrets.length > 0) return undefined;
  const generation = delivery.wireGeneration;
  if (!present) return { toolInstanceId: id, type: 'install', generation, payload: { tool: input.spec.spec } };
  if (report.generation < generation) return { toolInstanceId: id, type: 'configure', generation, payload: { tool: input.spec.spec } };
  if (report.generation > generation) return undefined;
  const desired = input.tool.desired_state;
  if (desired === 'running' && ['installed', 'stopped', 'error'].includes(report.state)) return { toolInstanceId: id, type: 'start', generation, payload: {} };
  if (desired === 'stopped' && ['running', 'starting', 'crash_loop'].includes(report.state)) return { toolInstanceId: id, type: 'stop', generation, payload: {} };
  return undefined;
}

/** Exponential backoff after `failures` failures (1 → base). */
export function retryDelay(failures: number, retry: { baseMs: number; maxMs: number }): number {
  return Math.min(retry.maxMs, retry.baseMs * 2 ** Math.max(0, failures - 1));
}

type Gate = { send: true } | { send: false; waitMs?: number };

/** Whether to send `wanted` now, given the tool's commands so far. */
export function gate(wanted: PlannedCommand, toolCommands: readonly Command[], observation: Observation | undefined, input: ToolsDiffInput): Gate {
  if (toolCommands.some((c) => OPEN.has(c.status))) return { send: false };
  const same = toolCommands.filter((c) => c.command_type === wanted.type && c.generation === wanted.generation);
  const done = same.find((c) => c.status === 'done');
  const doneAt = done?.finished_at?.getTime();
  if (doneAt !== undefined && input.now - doneAt < SETTLE_WINDOW_MS && (!observation || observation.observedAt <= doneAt)) {
    // Done, but no report since: the report is on its way (the answer carries it).
    return { send: false, waitMs: SETTLE_MS };
  }
  const failures = same.filter((c) => FAILED.has(c.status));
  if (failures.length === 0) return { send: true };
  const last = Math.max(...failures.map((c) => (c.finished_at ?? c.updated_at).getTime()));
  const due = last + retryDelay(failures.length, input.retry);
  return input.now >= due ? { send: true } : { send: false, waitMs: due - input.now };
}

/** The newest failed command of the tool at its current wish, for `last_error`. */
function lastFailure(toolCommands: readonly Command[], wanted: PlannedCommand | undefined): Command | undefined {
  if (!wanted) return undefined;
  return toolCommands
    .filter((c) => c.command_type === wanted.type && c.generation === wanted.generation && FAILED.has(c.status))
    .sort((a, b) => b.created_at.getTime() - a.created_at.getTime())[0];
}

function describeFailure(command: Command): string {
  const result = command.result ?? {};
  const error = result.error as { code?: string; reason?: string } | undefined;
  if (command.status === 'timed_out') return `${command.command_type} timed out without an answer from the agent`;
  return `${command.command_type} failed: ${error?.reason ?? (result.message as string | undefined) ?? command.error_code ?? 'no reason given'}`;
}

export { describeFailure, lastFailure };
