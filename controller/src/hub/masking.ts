/**
 * The controller's own pass over what an agent reports of a tool's output (the reason it is
 * in error, its last lines, health messages, command messages and failures, command logs):
 * the values of the tool's secrets are replaced by `***` before anything is stored, so the
 * API never shows them — even when the agent is old or does not mask (agents mask too,
 * droplet-agent/src/masking.ts). Values come from the hub's secret resolver (the tool's own
 * bindings) and are kept per connection for a short while. WARNING: values; never logged.
 */
import { getToolInstance } from '@toolbelt/schema';
import type { LogLine, ToolStatusReport } from '@toolbelt/schema/protocol';
import type { AgentConnection } from './connection.ts';
import type { HubContext } from './context.ts';

const MASK = '***';
/** How long a tool's values are reused before they are resolved again (a rotated secret). */
const TTL_MS = 30_000;

/** Masks a text with the tool's secret values. */
export type Masker = (text: string) => string;
const identity: Masker = (text) => text;

/** Patterns of the values: as written, JSON-escaped, URL-encoded, longest first. */
function maskerOf(values: readonly string[]): Masker {
  const patterns = [...new Set(values.filter((v) => v.length > 0).flatMap((v) => [v, JSON.stringify(v).slice(1, -1), encodeURIComponent(v)]))].sort(
    (a, b) => b.length - a.length,
  );
  if (patterns.length === 0) return identity;
  return (text) => patterns.reduce((out, p) => (out.includes(p) ? out.split(p).join(MASK) : out), text);
}

/** The masker of one of the connection's own tools (identity when it has no secrets). */
export async function maskerFor(ctx: HubContext, connection: AgentConnection, toolInstanceId: string): Promise<Masker> {
  if (!ctx.options.secrets) return identity;
  const cached = connection.maskers.get(toolInstanceId);
  if (cached && ctx.clock.now() - cached.at < TTL_MS) return cached.mask;
  const tool = await getToolInstance(ctx.db, toolInstanceId);
  const names = tool && tool.agent_droplet_id === connection.environmentId ? Object.keys(tool.secret_refs) : [];
  let values: string[] = [];
  if (names.length > 0) {
    values = Object.values(await ctx.options.secrets(connection.environmentId, toolInstanceId, names).catch(() => ({})));
  }
  const mask = maskerOf(values);
  if (connection.maskers.size >= 1000) connection.maskers.clear();
  connection.maskers.set(toolInstanceId, { at: ctx.clock.now(), mask });
  return mask;
}

const hasText = (r: ToolStatusReport) => r.reason !== undefined || (r.lastLogLines?.length ?? 0) > 0 || r.health.message !== undefined;

export const maskLines = (mask: Masker, lines: readonly LogLine[]): LogLine[] => lines.map((l) => ({ ...l, text: mask(l.text) }));

/** A report with its texts masked. */
export async function maskReport(ctx: HubContext, connection: AgentConnection, report: ToolStatusReport): Promise<ToolStatusReport> {
  if (!hasText(report)) return report;
  const mask = await maskerFor(ctx, connection, report.toolInstanceId);
  if (mask === identity) return report;
  return {
    ...report,
    ...(report.reason !== undefined ? { reason: mask(report.reason) } : {}),
    ...(report.lastLogLines ? { lastLogLines: maskLines(mask, report.lastLogLines) } : {}),
    health: report.health.message === undefined ? report.health : { ...report.health, message: mask(report.health.message) },
  };
}

/** Every report masked (only reports of the agent's own, known tools can carry secrets). */
export async function maskReports(ctx: HubContext, connection: AgentConnection, reports: readonly ToolStatusReport[]): Promise<ToolStatusReport[]> {
  const masked: ToolStatusReport[] = [];
  for (const report of reports) masked.push(connection.ownTools.has(report.toolInstanceId) ? await maskReport(ctx, connection, report) : report);
  return masked;
}
