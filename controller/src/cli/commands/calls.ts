/**
 * `toolbelt calls AGENT [--limit N]`: the agent's last MCP calls through the gateway, oldest
 * first (`GET /v1/agents/{id}/calls`, fetched page by page): time, caller token, tool, outcome,
 * error code, duration and bytes — never arguments or results, which are not stored.
 */
import { parseArgs } from 'node:util';
import { type CommandContext, usageError } from '../context.ts';
import { printStructured, printTable } from '../output.ts';

const USAGE = 'toolbelt calls AGENT [--limit N]   (N: 1–10000, default 50)';
const PAGE = 500;
const enc = encodeURIComponent;

/** A call as the API answers it. */
interface CallRow {
  at: string;
  caller: string;
  instance_name: string | null;
  method: string;
  tool: string | null;
  duration_ms: number;
  outcome: string;
  error_code: number | null;
  bytes_in: number;
  bytes_out: number;
}

function parse(args: string[]): { agent: string; limit: number } {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { limit: { type: 'string', short: 'n' } }, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError((error as Error).message, USAGE);
  }
  const [agent, ...extra] = parsed.positionals;
  if (!agent || extra.length) throw usageError('calls needs one AGENT', USAGE);
  const limit = Number(parsed.values.limit ?? 50);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw usageError(`--limit ${parsed.values.limit}: expected 1–10000`, USAGE);
  return { agent, limit };
}

/** The newest `limit` calls, newest first, a page at a time. */
async function fetchCalls(ctx: CommandContext, agent: string, limit: number): Promise<CallRow[]> {
  const calls: CallRow[] = [];
  let before: string | null = null;
  do {
    const size = Math.min(PAGE, limit - calls.length);
    const page: { items: CallRow[]; next: string | null } = await ctx
      .client()
      .request('GET', `/v1/agents/${enc(agent)}/calls?limit=${size}${before ? `&before=${enc(before)}` : ''}`);
    calls.push(...page.items);
    before = page.next;
  } while (before && calls.length < limit);
  return calls;
}

const bytes = (n: number) => (n < 10_000 ? `${n}` : n < 10_000_000 ? `${Math.round(n / 1024)}Ki` : `${Math.round(n / 1048576)}Mi`);

export async function callsCommand(ctx: CommandContext): Promise<void> {
  const { agent, limit } = parse(ctx.args);
  const oldestFirst = (await fetchCalls(ctx, agent, limit)).reverse();
  if (printStructured(ctx, oldestFirst)) return;
  if (oldestFirst.length === 0) return ctx.print(`no gateway calls of agent "${agent}" are recorded`);
  printTable(
    ctx,
    ['time', 'caller', 'method', 'tool', 'outcome', 'code', 'ms', 'in', 'out'],
    oldestFirst.map((c) => [c.at, c.caller, c.method, c.tool, c.outcome, c.error_code, c.duration_ms, bytes(c.bytes_in), bytes(c.bytes_out)]),
  );
}
