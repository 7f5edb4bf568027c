/**
 * `toolbelt gitops status|sync|history`: GitOps through `GET /v1/gitops` and
 * `POST /v1/gitops/sync`. `sync` waits (up to --timeout seconds) until the leader has taken
 * the request, then shows the sync it made — or says that the commit was already applied.
 */
import { parseArgs } from 'node:util';
import { CliError, type CommandContext, usageError } from '../context.ts';
import { age, printStructured, printTable } from '../output.ts';

const USAGE = 'toolbelt gitops status | sync [--timeout SECONDS] | history [--limit N]';

interface SyncRow {
  id: number;
  trigger: string;
  commit: string | null;
  author: string | null;
  message: string | null;
  finished_at: string;
  result: string;
  changes: { kind: string; name: string; action: string; changes?: string[] }[];
  problems: { file: string | null; document: number | null; field: string; message: string }[];
  error: string | null;
  attempts: number;
}

interface GitopsView {
  enabled: boolean;
  repo?: string;
  branch?: string;
  path?: string;
  status?: string;
  applied_commit?: string | null;
  pending?: number;
  last?: SyncRow | null;
  objects?: { kind: string; name: string; file: string; status: string; drift: string[] }[];
  history?: SyncRow[];
}

const short = (sha: string | null | undefined) => (sha ? sha.slice(0, 12) : '-');

async function view(ctx: CommandContext, limit = 20): Promise<GitopsView> {
  const answer = await ctx.client().request<GitopsView>('GET', `/v1/gitops?limit=${limit}`);
  if (!answer.enabled) throw new CliError('GitOps is off in this controller (set TOOLBELT_GITOPS_REPO; see docs/gitops.md)');
  return answer;
}

function printSync(ctx: CommandContext, sync: SyncRow): void {
  const tries = sync.attempts > 1 ? ` (x${sync.attempts})` : '';
  ctx.print(`sync #${sync.id}: ${sync.result}${tries}, ${sync.trigger}, commit ${short(sync.commit)}${sync.message ? ` "${sync.message}"` : ''}, ${age(sync.finished_at)} ago`);
  for (const c of sync.changes) ctx.print(`  ${c.action.padEnd(10)} ${c.kind}/${c.name}${c.changes?.length ? ` (${c.changes.join(', ')})` : ''}`);
  for (const p of sync.problems) ctx.print(`  ${p.file ?? '(set)'}${p.document === null ? '' : `#${p.document}`} ${p.field}: ${p.message}`);
  if (sync.error && sync.problems.length === 0) ctx.print(`  ${sync.error}`);
}

async function status(ctx: CommandContext): Promise<void> {
  const v = await view(ctx, 1);
  if (printStructured(ctx, v)) return;
  ctx.print(`${v.status}  ${v.repo} ${v.branch}${v.path ? `:${v.path}` : ''}  applied ${short(v.applied_commit)}${v.pending ? `  (${v.pending} pending)` : ''}`);
  if (v.last) printSync(ctx, v.last);
  const drifted = (v.objects ?? []).filter((o) => o.status === 'OutOfSync');
  for (const o of drifted) ctx.print(`  OutOfSync  ${o.kind}/${o.name} (${o.file}): ${o.drift.join('; ')}`);
}

async function history(ctx: CommandContext, limit: number): Promise<void> {
  const v = await view(ctx, limit);
  if (printStructured(ctx, v.history)) return;
  printTable(
    ctx,
    ['id', 'result', 'trigger', 'commit', 'changes', 'age', 'message'],
    (v.history ?? []).map((s) => [s.id, s.attempts > 1 ? `${s.result} x${s.attempts}` : s.result, s.trigger, short(s.commit), s.changes.length, age(s.finished_at), s.error ?? s.message]),
  );
}

async function sync(ctx: CommandContext, timeoutSeconds: number): Promise<void> {
  const before = (await view(ctx, 1)).last?.id ?? 0;
  await ctx.client().request('POST', '/v1/gitops/sync');
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const v = await view(ctx, 1);
    if (v.pending === 0) return done(ctx, v, before);
    if (Date.now() > deadline) throw new CliError(`the sync was requested but not taken within ${timeoutSeconds}s (is a leader running?)`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** What a taken request led to: a new sync, or none (the commit was applied already). */
function done(ctx: CommandContext, v: GitopsView, before: number): void {
  if (printStructured(ctx, v.last)) return;
  if (v.last && (v.last.id !== before || v.last.result === 'failed')) printSync(ctx, v.last);
  else ctx.print(`nothing to do: commit ${short(v.applied_commit)} is applied`);
  if (v.last?.result === 'failed') throw new CliError('the last sync failed');
}

export async function gitopsCommand(ctx: CommandContext): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: ctx.args, options: { timeout: { type: 'string' }, limit: { type: 'string' } }, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError((error as Error).message, USAGE);
  }
  const [action, ...extra] = parsed.positionals;
  if (extra.length) throw usageError(`unexpected ${extra.join(' ')}`, USAGE);
  if (action === 'status') return status(ctx);
  if (action === 'history') return history(ctx, Number(parsed.values.limit ?? 20));
  if (action === 'sync') return sync(ctx, Number(parsed.values.timeout ?? 60));
  throw usageError('gitops status|sync|history', USAGE);
}
