/**
 * `toolbelt events [--object KIND/ID] [--follow]` and `toolbelt logs AGENT [--follow]`
 * (the reconcile events of an agent, its environment and its tools). `--follow` keeps
 * printing new events from the server's Server-Sent Events stream until interrupted.
 */
import { parseArgs } from 'node:util';
import { apiError } from '../client.ts';
import { CliError, type CommandContext, usageError } from '../context.ts';
import { type EventRow, printStructured } from '../output.ts';

const USAGE = 'toolbelt events [--object KIND/ID]... [--follow] | toolbelt logs AGENT [--follow]';
const enc = encodeURIComponent;


function line(e: EventRow): string {
  return `${e.last_seen}  ${e.type.padEnd(7)}  ${e.reason.padEnd(20)}  ${e.object.kind}/${e.object.id}  ${e.message}${e.count > 1 ? ` (x${e.count})` : ''}`;
}

function print(ctx: CommandContext, e: EventRow): void {
  if (ctx.output === 'json') ctx.print(JSON.stringify(e));
  else if (!printStructured(ctx, [e])) ctx.print(line(e));
}

async function follow(ctx: CommandContext, query: string, after: EventRow | undefined): Promise<void> {
  // Resume right after the newest event shown (the stream's own cursor format).
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (after) headers['last-event-id'] = `${Date.parse(after.last_seen)}.${after.id}`;
  const response = await ctx.client().fetch('GET', `/v1/events/stream?${query}`, { signal: ctx.signal, headers });
  if (!response.ok) throw apiError(response.status, await response.json().catch(() => undefined));
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new CliError('the controller closed the event stream (stopped or restarted?)');
      buffer += decoder.decode(value, { stream: true });
      const frames = buffer.split('\n\n');
      buffer = frames.pop()!;
      for (const frame of frames) {
        const data = frame.split('\n').find((l) => l.startsWith('data: '));
        if (data) print(ctx, JSON.parse(data.slice(6)) as EventRow);
      }
    }
  } catch (error) {
    if (ctx.signal.aborted) return;
    throw error;
  }
}

async function show(ctx: CommandContext, objects: string[], followToo: boolean): Promise<void> {
  const query = objects.map((o) => `object=${enc(o)}`).join('&');
  const { items } = await ctx.client().request<{ items: EventRow[] }>('GET', `/v1/events?${query}&limit=100`);
  const oldestFirst = [...items].reverse();
  if (!followToo && printStructured(ctx, oldestFirst)) return;
  for (const e of oldestFirst) print(ctx, e);
  if (followToo) await follow(ctx, query, items[0]);
}

function parse(args: string[]) {
  try {
    return parseArgs({ args, options: { object: { type: 'string', multiple: true }, follow: { type: 'boolean', short: 'f' } }, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError((error as Error).message, USAGE);
  }
}

export async function eventsCommand(ctx: CommandContext): Promise<void> {
  const { values, positionals } = parse(ctx.args);
  if (positionals.length) throw usageError(`unexpected argument ${positionals[0]}`, USAGE);
  await show(ctx, values.object ?? [], values.follow === true);
}

export async function logsCommand(ctx: CommandContext): Promise<void> {
  const { values, positionals } = parse(ctx.args);
  const [agent, ...extra] = positionals;
  if (!agent || extra.length) throw usageError('logs needs one AGENT', USAGE);
  const found = await ctx.client().request<{ id: string; environment: { id: string } | null }>('GET', `/v1/agents/${enc(agent)}`);
  const tools = (await ctx.client().request<{ items: { id: string }[] }>('GET', `/v1/agents/${enc(agent)}/tools?limit=500`)).items;
  const ids = [found.id, ...(found.environment ? [found.environment.id] : []), ...tools.map((t) => t.id)];
  await show(ctx, ids, values.follow === true);
}
