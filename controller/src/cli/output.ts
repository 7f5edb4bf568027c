/**
 * Output: plain tables for people, `-o json` and `-o yaml` for programs.
 */
import { stringify } from 'yaml';
import type { CommandContext } from './context.ts';

/** Prints rows as aligned columns under upper-case headers. */
/** An event as the API answers it (`GET /v1/events`, its SSE stream). */
export interface EventRow {
  id: number;
  type: string;
  reason: string;
  message: string;
  count: number;
  last_seen: string;
  object: { kind: string; id: string };
}

export function printTable(ctx: CommandContext, headers: string[], rows: (string | number | null | undefined)[][]): void {
  const cells = [headers.map((h) => h.toUpperCase()), ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  for (const row of cells) ctx.print(row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

/** Prints a value as JSON or YAML when asked to; returns false for table output. */
export function printStructured(ctx: CommandContext, value: unknown): boolean {
  if (ctx.output === 'json') ctx.print(JSON.stringify(value, null, 2));
  else if (ctx.output === 'yaml') ctx.stdout.write(stringify(value));
  else return false;
  return true;
}

/** "3m ago" style age of an ISO time. */
export function age(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

/** The condition `type` of a status, as "True"/"False"/"Unknown" (or "-"). */
export function conditionStatus(conditions: { type: string; status: string }[] | undefined, type = 'Ready'): string {
  return conditions?.find((c) => c.type === type)?.status ?? '-';
}
