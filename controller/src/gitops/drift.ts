/**
 * Drift: objects from git changed around it (through the API) since their commit was
 * applied. Found by `apply`'s own server-side diff run as a dry run against the applied
 * commit — whatever it would change has drifted. Each object's status (Synced, OutOfSync) is
 * written only when it changes, with an event; nothing else is written.
 */
import type { ReconcileContext } from '@toolbelt/reconcilers';
import { listGitopsObjects, setGitopsObjectStatus } from '@toolbelt/schema';
import { type ApplyResult, ApplyProblems, applyDocuments } from '../api/apply/apply.ts';
import type { IndexedManifest } from '../api/apply/documents.ts';
import { type EnvironmentDefaults, type WriteContext, Rollback } from '../api/ops/context.ts';
import type { ToolConfigValidator } from '../api/ops/tool-config.ts';

export interface DriftCheck {
  ctx: ReconcileContext;
  documents: IndexedManifest[];
  prune: boolean;
  defaults: EnvironmentDefaults;
  configs: ToolConfigValidator;
}

/** Marks drifted objects OutOfSync (and the others Synced); true when anything would change. */
export async function checkDrift(check: DriftCheck): Promise<boolean> {
  const { ctx } = check;
  let results: ApplyResult[];
  try {
    results = await dryRun(check);
  } catch (error) {
    // The applied commit no longer applies (say its catalog tool was deleted): that is drift too.
    if (error instanceof ApplyProblems) return true;
    throw error;
  }
  const wouldChange = results.filter((r) => r.action !== 'unchanged');
  const drift = new Map<string, string[]>();
  for (const result of wouldChange) {
    const key = objectKey(result);
    drift.set(key, [...(drift.get(key) ?? []), describe(result)]);
  }
  for (const object of await listGitopsObjects(ctx.db)) {
    const found = drift.get(`${object.kind}/${object.name}`) ?? [];
    const status = found.length > 0 ? 'OutOfSync' : 'Synced';
    const changed = await ctx.fence.write((tx) => setGitopsObjectStatus(tx, { kind: object.kind, name: object.name, status, drift: found }));
    if (!changed) continue;
    const what = `${object.kind} "${object.name}" (${object.file})`;
    if (status === 'OutOfSync') await ctx.events.warning('OutOfSync', `${what} differs from git: ${found.join('; ')}`);
    else await ctx.events.normal('InSync', `${what} matches git again`);
  }
  return wouldChange.length > 0;
}

/** Apply's results for the documents, computed in a transaction that is rolled back. */
async function dryRun(check: DriftCheck): Promise<ApplyResult[]> {
  try {
    await check.ctx.db.transaction(async (tx) => {
      const ctx: WriteContext = { tx: tx as unknown as WriteContext['tx'], defaults: check.defaults, configs: check.configs };
      throw new Rollback(await applyDocuments(ctx, check.documents, { prune: check.prune }));
    });
  } catch (error) {
    if (error instanceof Rollback) return error.result as ApplyResult[];
    throw error;
  }
  return [];
}

/** The manifest object a result belongs to: a tool belongs to its agent's Toolbelt. */
function objectKey(result: ApplyResult): string {
  if (result.kind === 'Tool') return `Toolbelt/${result.name.split('/')[0]}`;
  return `${result.kind}/${result.name}`;
}

function describe(result: ApplyResult): string {
  const what = result.kind === 'Tool' ? `tool ${result.name.split('/').slice(1).join('/')}` : result.kind;
  const verb = result.action === 'created' ? 'missing' : result.action === 'deleted' ? 'not in git' : `changed ${(result.changes ?? []).join(', ')}`;
  return `${what} ${verb}`.trim();
}
