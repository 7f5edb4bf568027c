/**
 * `planTools` (pure): puts the diff's rules (diff.ts) and the status rules (status.ts)
 * together for every tool instance of one environment, plus the orphans the agent reports.
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
} from './diff.ts';
import { conditionsOf, explainFailure, statusOfState, withConditions } from './status.ts';

const OPEN = new Set(['queued', 'sent', 'accepted']);

interface StatusFacts {
  input: ToolInput;
  delivery: ToolDelivery;
  observation: Observation | undefined;
  failure: Command | undefined;
  installing: boolean;
  agentConnected: boolean;
  now: number;
}

/** The tool's status, conditions and error from what is observed. */
export function statusOf(facts: StatusFacts): ToolStatusPatch {
  const { input, delivery, observation, failure } = facts;
  const tool = input.tool;
  const report = observation?.report;
  const wanted = { wireGeneration: delivery.wireGeneration, desiredState: tool.desired_state };
  const conditions = withConditions(tool.conditions, conditionsOf(report, wanted), facts.now, tool.generation);
  const base = {
    conditions,
    endpoints: report?.state === 'running' ? report.endpoints : [],
    capabilities: report?.capabilities ?? tool.capabilities,
    observed_generation: report && report.generation === delivery.wireGeneration ? delivery.specGeneration : tool.observed_generation,
  };
  if (tool.deletion_requested_at) return { ...base, status: 'uninstalling', last_error: failure ? describeFailure(failure) : null };
  if (!input.spec.ok) return { ...base, status: 'error', last_error: input.spec.reason };
  if (input.missingSecrets.length > 0) {
    const names = input.missingSecrets.join(', ');
    return { ...base, status: 'pending_config', last_error: `the agent has no secret named ${names}; set it (PUT /v1/agents/{agent}/secrets/{name}) or change secret_refs` };
  }
  if (report && (report.state === 'crash_loop' || report.state === 'error')) return { ...base, status: 'error', last_error: explainFailure(report) };
  if (failure && report?.state !== 'running') return { ...base, status: 'error', last_error: describeFailure(failure) };
  if (report && report.state !== 'uninstalled') return { ...base, status: statusOfState(report.state), last_error: null };
  if (facts.installing) return { ...base, status: 'installing', last_error: null };
  return { ...base, status: 'pending', last_error: facts.agentConnected ? null : 'waiting for the droplet agent to connect' };
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

function planOne(input: ToolInput, diff: ToolsDiffInput, byTool: ReadonlyMap<string, Command[]>): OneTool {
  const tool = input.tool;
  const observation = diff.observed.get(tool.id);
  const report = observation?.report;
  const toolCommands = byTool.get(tool.id) ?? [];
  const next = input.spec.ok ? nextDelivery(input, report?.generation) : { delivery: tool.delivery ?? { wireGeneration: 0, specGeneration: 0, fingerprint: '' }, changed: false };
  const wanted = wantedCommand(input, next.delivery, report);
  let command: PlannedCommand | undefined;
  let waitMs: number | undefined;
  if (wanted && diff.agentConnected) {
    const verdict = gate(wanted, toolCommands, observation, diff);
    if (verdict.send) command = wanted;
    else waitMs = verdict.waitMs;
  }
  const present = report !== undefined && report.state !== 'uninstalled';
  const uninstalled = toolCommands.some((c) => c.command_type === 'uninstall' && c.status === 'done') && !toolCommands.some((c) => OPEN.has(c.status));
  const deleteRow = tool.deletion_requested_at !== null && (!present || (uninstalled && command === undefined)) && !toolCommands.some((c) => OPEN.has(c.status));
  const installing = toolCommands.some((c) => (c.command_type === 'install' || c.command_type === 'configure') && OPEN.has(c.status));
  const status = statusOf({ input, delivery: next.delivery, observation, failure: lastFailure(toolCommands, wanted), installing, agentConnected: diff.agentConnected, now: diff.now });
  const plan: ToolPlan = { toolId: tool.id, status, deleteRow, ...(next.changed ? { delivery: next.delivery } : {}), ...(command ? { command } : {}) };
  return { plan, events: deleteRow ? [] : statusEvents(input, status), ...(waitMs === undefined ? {} : { waitMs }) };
}

/** Uninstalls of reported tools that no row describes. */
function orphansOf(diff: ToolsDiffInput, byTool: ReadonlyMap<string, Command[]>): PlannedCommand[] {
  if (!diff.agentConnected) return [];
  const known = new Set(diff.tools.map((t) => t.tool.id));
  const orphans: PlannedCommand[] = [];
  for (const [id, { report }] of diff.observed) {
    if (known.has(id) || report.state === 'uninstalled') continue;
    const commands = byTool.get(id) ?? [];
    if (commands.some((c) => OPEN.has(c.status))) continue;
    orphans.push({ toolInstanceId: id, type: 'uninstall', generation: report.generation, payload: {} });
  }
  return orphans;
}

/** The plan for one environment's toolbelt. */
export function planTools(diff: ToolsDiffInput): ToolsPlan {
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
  return { tools, orphans: orphansOf(diff, byTool), events, ...(requeueAfterMs === undefined ? {} : { requeueAfterMs }) };
}
