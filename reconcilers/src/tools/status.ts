/**
 * A tool instance's status from what its agent observes (pure). Condition types:
 * - `Installed` — the agent has the tool (any generation);
 * - `Running` — its process or container runs;
 * - `Healthy` — its last health check passed (an MCP session for MCP tools);
 * - `Ready` — the current generation is installed and in its desired state (running and
 *   healthy, or stopped).
 * `status` is the store's word for the same (`installing`, `running`, `stopped`, `error`…);
 * a crash-looping tool is `error` with the last exit and log lines in `last_error`.
 */
import type { Condition, ToolStatus } from '@toolbelt/schema';
import type { ToolRuntimeState, ToolStatusReport } from '@toolbelt/schema/protocol';

export type ToolConditionType = 'Installed' | 'Running' | 'Healthy' | 'Ready';
const ORDER: readonly ToolConditionType[] = ['Ready', 'Installed', 'Running', 'Healthy'];

interface ConditionInput {
  type: ToolConditionType;
  status: Condition['status'];
  reason: string;
  message: string;
}

/** Sets conditions, keeping each one's transition time while its status stays. */
export function withConditions(previous: readonly Condition[], inputs: readonly ConditionInput[], now: number, generation: number): Condition[] {
  const next = inputs.map((input): Condition => {
    const current = previous.find((c) => c.type === input.type);
    const lastTransitionTime = current && current.status === input.status ? current.lastTransitionTime : new Date(now).toISOString();
    return { ...input, lastTransitionTime, observedGeneration: generation };
  });
  return next.sort((a, b) => ORDER.indexOf(a.type as ToolConditionType) - ORDER.indexOf(b.type as ToolConditionType));
}

const STATE_TO_STATUS: Record<ToolRuntimeState, ToolStatus> = {
  installing: 'installing',
  installed: 'installed',
  starting: 'starting',
  running: 'running',
  stopping: 'stopping',
  stopped: 'stopped',
  crash_loop: 'error',
  error: 'error',
  uninstalled: 'pending',
};

/** The store status of an observed runtime state. */
export const statusOfState = (state: ToolRuntimeState): ToolStatus => STATE_TO_STATUS[state];

/** Why a tool is in error, for `last_error`: the agent's reason, the last exit, the last lines. */
export function explainFailure(report: ToolStatusReport): string {
  const parts = [report.reason ?? `the tool is in ${report.state}`];
  if (report.lastExit) {
    const how = report.lastExit.signal ? `signal ${report.lastExit.signal}` : `code ${report.lastExit.code}`;
    parts.push(`last exit: ${how} at ${report.lastExit.at}${report.restarts ? ` after ${report.restarts} restart(s)` : ''}`);
  }
  const lines = (report.lastLogLines ?? []).slice(-10).map((l) => `  ${l.stream}: ${l.text}`);
  if (lines.length > 0) parts.push(`last output:\n${lines.join('\n')}`);
  return parts.join('; ');
}

function readyCondition(report: ToolStatusReport, wanted: { wireGeneration: number; desiredState: 'running' | 'stopped' }): ConditionInput {
  const current = report.generation === wanted.wireGeneration;
  const inState = wanted.desiredState === 'running' ? report.state === 'running' && report.health.status === 'healthy' : report.state === 'stopped';
  if (current && inState) return { type: 'Ready', status: 'True', reason: 'Ready', message: `delivery ${report.generation} (the current spec and secrets) is ${report.state}` };
  if (!current) {
    return { type: 'Ready', status: 'False', reason: 'Updating', message: `the agent has delivery ${report.generation}; delivery ${wanted.wireGeneration} is on its way` };
  }
  const reason = report.state === 'crash_loop' ? 'CrashLoop' : report.state === 'error' ? 'Failed' : 'NotInDesiredState';
  return { type: 'Ready', status: 'False', reason, message: `wanted ${wanted.desiredState}, observed ${report.state} (health ${report.health.status})` };
}

const HEALTH: Record<ToolStatusReport['health']['status'], Pick<ConditionInput, 'status' | 'reason'>> = {
  healthy: { status: 'True', reason: 'HealthCheckPassed' },
  unhealthy: { status: 'False', reason: 'HealthCheckFailed' },
  unknown: { status: 'Unknown', reason: 'NotChecked' },
};

/** What the conditions say about a report, given the wanted generation and state. */
export function conditionsOf(
  report: ToolStatusReport | undefined,
  wanted: { wireGeneration: number; desiredState: 'running' | 'stopped' },
): ConditionInput[] {
  if (!report || report.state === 'uninstalled') {
    return [
      { type: 'Ready', status: 'False', reason: 'NotInstalled', message: 'the agent does not have this tool yet' },
      { type: 'Installed', status: 'False', reason: 'NotInstalled', message: 'the agent does not report this tool' },
    ];
  }
  const installed = report.state !== 'installing';
  const running = report.state === 'running';
  return [
    readyCondition(report, wanted),
    { type: 'Installed', status: installed ? 'True' : 'False', reason: installed ? 'Installed' : 'Installing', message: `observed ${report.state}` },
    { type: 'Running', status: running ? 'True' : 'False', reason: running ? 'Running' : 'NotRunning', message: `observed ${report.state}` },
    { type: 'Healthy', ...HEALTH[report.health.status], message: report.health.message ?? `health ${report.health.status}` },
  ];
}
