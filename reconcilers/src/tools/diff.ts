/**
 * The tools diff, `diffTools` (pure): desired tool instances of one environment against what
 * its agent reports → a plan (plan.ts), by the delivery and command rules (plan.ts) and the
 * status rules (status.ts), for every tool instance plus the orphans the agent reports.
 */
import type { Command, ToolCapabilities, ToolDelivery, ToolStatusPatch } from '@toolbelt/schema';
import {
  type ToolsDiffInput,
  describeFailure,
  gate,
  lastFailure,
  nextDelivery,
  type Observation,
  type PlannedCommand,
  type PlannedEvent,
  type ToolInput,
  type ToolPlan,
  type ToolsPlan,
  wantedCommand,
} from './plan.ts';
import { reachableEndpoints } from './endpoints.ts';
import { conditionsOf, explainFailure, statusOfState, withConditions } from './status.ts';

const OPEN = new Set(['queued', 'sent', 'accepted']);

/**
 * Bounds of one reconcile of one environment, whatever its agent reports: orphan uninstalls
 * open at once (and so their events), and events written. The rest waits for the next reconcile;
 * one droplet's invented tools must not become thousands of commands and events at once.
 */
export const MAX_ORPHANS_PER_RECONCILE = 10;
export const MAX_EVENTS_PER_RECONCILE = 50;
/** When orphans were left for later, the next reconcile comes after this. */
export const ORPHAN_REQUEUE_MS = 5_000;

interface StatusFacts {
  input: ToolInput;
  delivery: ToolDelivery;
  observation: Observation | undefined;
  failure: Command | undefined;
  installing: boolean;
  agentConnected: boolean;
  dropletAddress: string | null;
  now: number;
}

type StatusWord = Pick<ToolStatusPatch, 'status' | 'last_error'>;

/** Why the tool cannot run at all (deletion, a bad spec, a missing secret), if so. */
function blockedStatus(facts: StatusFacts): StatusWord | undefined {
  const { input, failure } = facts;
  if (input.tool.deletion_requested_at) return { status: 'uninstalling', last_error: failure ? describeFailure(failure) : null };
  if (!input.spec.ok) return { status: 'error', last_error: input.spec.reason };
  if (input.missingSecrets.length === 0) return undefined;
  const names = input.missingSecrets.join(', ');
  return { status: 'pending_config', last_error: `the agent has no secret named ${names}; set it (PUT /v1/agents/{agent}/secrets/{name}) or change secret_refs` };
}

/** The status word and error from the report, the last failure and what is in flight. */
function observedStatus(facts: StatusFacts): StatusWord {
  const report = facts.observation?.report;
  if (report && (report.state === 'crash_loop' || report.state === 'error')) return { status: 'error', last_error: explainFailure(report) };
  if (facts.failure && report?.state !== 'running') return { status: 'error', last_error: describeFailure(facts.failure) };
  if (report && report.state !== 'uninstalled') return { status: statusOfState(report.state), last_error: null };
  if (facts.installing) return { status: 'installing', last_error: null };
  return { status: 'pending', last_error: facts.agentConnected ? null : 'waiting for the droplet agent to connect' };
}

/** The tool's status, conditions and error from what is observed. */
export function statusOf(facts: StatusFacts): ToolStatusPatch {
  const { input, delivery } = facts;
  const tool = input.tool;
  const report = facts.observation?.report;
  const wanted = { wireGeneration: delivery.wireGeneration, desiredState: tool.desired_state };
  const current = report !== undefined && report.generation === delivery.wireGeneration;
  return {
    conditions: withConditions(tool.conditions, conditionsOf(report, wanted), facts.now, tool.generation),
    endpoints: report?.state === 'running' ? reachableEndpoints(report.endpoints, facts.dropletAddress) : [],
    capabilities: report?.capabilities ?? tool.capabilities,
    observed_generation: current ? delivery.specGeneration : tool.observed_generation,
    ...(blockedStatus(facts) ?? observedStatus(facts)),
  };
}

const toolNames = (c: ToolCapabilities | null | undefined) => (c ? c.tools.map((t) => t.name).sort() : undefined);

/** A changed MCP tool list is worth an event (added and removed names). */
function capabilityEvents(toolId: string, before: ToolCapabilities | null, after: ToolCapabilities | null | undefined): PlannedEvent[] {
  const was = toolNames(before);
  const now = toolNames(after);
  if (!now || (was && was.join('\n') === now.join('\n'))) return [];
  if (!was) return [{ type: 'Normal', reason: 'CapabilitiesDiscovered', message: `offers ${now.length} MCP tool(s): ${now.join(', ')}`, toolInstanceId: toolId }];
  const added = now.filter((n) => !was.includes(n));
  const removed = was.filter((n) => !now.includes(n));
  return [
    {
      type: 'Normal',
      reason: 'CapabilitiesChanged',
      message: `MCP tool list changed: added ${added.join(', ') || 'none'}; removed ${removed.join(', ') || 'none'}`,
      toolInstanceId: toolId,
    },
  ];
}

function statusEvents(input: ToolInput, status: ToolStatusPatch): PlannedEvent[] {
  const tool = input.tool;
  const events = capabilityEvents(tool.id, tool.capabilities, status.capabilities);
  if (status.status === 'error' && (tool.status !== 'error' || tool.last_error !== status.last_error)) {
    const first = (status.last_error ?? '').split('\n')[0]!.slice(0, 500);
    events.push({ type: 'Warning', reason: 'ToolFailed', message: `${tool.instance_name}: ${first}`, toolInstanceId: tool.id });
  }
  if (status.status === 'running' && tool.status !== 'running') {
    events.push({ type: 'Normal', reason: 'ToolRunning', message: `${tool.instance_name} runs`, toolInstanceId: tool.id });
  }
  return events;
}

interface OneTool {
  plan: ToolPlan;
  events: PlannedEvent[];
  waitMs?: number;
}

const NO_DELIVERY: ToolDelivery = { wireGeneration: 0, specGeneration: 0, fingerprint: '' };

/** The command to send now (if any) and how long to wait otherwise. */
function decide(wanted: PlannedCommand | undefined, toolCommands: readonly Command[], observation: Observation | undefined, diff: ToolsDiffInput) {
  if (!wanted || !diff.agentConnected || diff.windingDown) return { command: undefined, waitMs: undefined };
  const verdict = gate(wanted, toolCommands, observation, diff);
  return verdict.send ? { command: wanted, waitMs: undefined } : { command: undefined, waitMs: verdict.waitMs };
}

/** A removed tool's row goes once the agent no longer has it (or confirmed the uninstall) and nothing is in flight. */
function rowCanGo(input: ToolInput, report: Observation['report'] | undefined, toolCommands: readonly Command[]): boolean {
  if (input.tool.deletion_requested_at === null || toolCommands.some((c) => OPEN.has(c.status))) return false;
  const present = report !== undefined && report.state !== 'uninstalled';
  return !present || toolCommands.some((c) => c.command_type === 'uninstall' && c.status === 'done');
}

function planOne(input: ToolInput, diff: ToolsDiffInput, byTool: ReadonlyMap<string, Command[]>): OneTool {
  const tool = input.tool;
  const observation = diff.observed.get(tool.id);
  const report = observation?.report;
  const toolCommands = byTool.get(tool.id) ?? [];
  const next = input.spec.ok ? nextDelivery(input, report?.generation) : { delivery: tool.delivery ?? NO_DELIVERY, changed: false };
  const wanted = wantedCommand(input, next.delivery, report);
  const { command, waitMs } = decide(wanted, toolCommands, observation, diff);
  const deleteRow = command === undefined && rowCanGo(input, report, toolCommands);
  const installing = toolCommands.some((c) => (c.command_type === 'install' || c.command_type === 'configure') && OPEN.has(c.status));
  const failure = lastFailure(toolCommands, wanted);
  const { agentConnected, dropletAddress, now } = diff;
  const status = statusOf({ input, delivery: next.delivery, observation, failure, installing, agentConnected, dropletAddress, now });
  const plan: ToolPlan = { toolId: tool.id, status, deleteRow, ...(next.changed ? { delivery: next.delivery } : {}), ...(command ? { command } : {}) };
  return { plan, events: deleteRow ? [] : statusEvents(input, status), ...(waitMs === undefined ? {} : { waitMs }) };
}

/**
 * Uninstalls of reported tools that no row describes, and how many more wait. At most
 * MAX_ORPHANS_PER_RECONCILE are open at once (sent ones count), so an agent that invents
 * tools and never answers holds that many commands, not one per invented id.
 */
function orphansOf(diff: ToolsDiffInput, byTool: ReadonlyMap<string, Command[]>): { orphans: PlannedCommand[]; left: number } {
  if (!diff.agentConnected || diff.windingDown) return { orphans: [], left: 0 };
  const known = new Set(diff.tools.map((t) => t.tool.id));
  const openOf = (id: string) => (byTool.get(id) ?? []).some((c) => OPEN.has(c.status));
  // Open uninstalls of unknown tools count whether or not the latest inventory still lists them.
  const open = [...byTool.keys()].filter((id) => !known.has(id) && openOf(id)).length;
  const all: PlannedCommand[] = [];
  for (const [id, { report }] of diff.observed) {
    if (known.has(id) || report.state === 'uninstalled' || openOf(id)) continue;
    all.push({ toolInstanceId: id, type: 'uninstall', generation: report.generation, payload: {} });
  }
  const room = Math.max(0, MAX_ORPHANS_PER_RECONCILE - open);
  return { orphans: all.slice(0, room), left: all.length - Math.min(room, all.length) };
}

/** The events to write, at most MAX_EVENTS_PER_RECONCILE (Warnings first), and how many were left out. */
function capEvents(events: PlannedEvent[]): { events: PlannedEvent[]; omitted: number } {
  if (events.length <= MAX_EVENTS_PER_RECONCILE) return { events, omitted: 0 };
  const ordered = [...events.filter((e) => e.type === 'Warning'), ...events.filter((e) => e.type !== 'Warning')];
  return { events: ordered.slice(0, MAX_EVENTS_PER_RECONCILE), omitted: events.length - MAX_EVENTS_PER_RECONCILE };
}

/** The plan for one environment's toolbelt. */
export function diffTools(diff: ToolsDiffInput): ToolsPlan {
  const byTool = new Map<string, Command[]>();
  for (const command of diff.commands) {
    if (command.tool_instance_id === null) continue;
    const list = byTool.get(command.tool_instance_id) ?? [];
    list.push(command);
    byTool.set(command.tool_instance_id, list);
  }
  const tools: ToolPlan[] = [];
  const events: PlannedEvent[] = [];
  let requeueAfterMs: number | undefined;
  for (const input of diff.tools) {
    const one = planOne(input, diff, byTool);
    tools.push(one.plan);
    events.push(...one.events);
    if (one.waitMs !== undefined) requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, one.waitMs);
  }
  const orphans = orphansOf(diff, byTool);
  if (orphans.left > 0) requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, ORPHAN_REQUEUE_MS);
  const capped = capEvents(events);
  return {
    tools,
    orphans: orphans.orphans,
    orphansLeft: orphans.left,
    events: capped.events,
    eventsOmitted: capped.omitted,
    ...(requeueAfterMs === undefined ? {} : { requeueAfterMs }),
  };
}
