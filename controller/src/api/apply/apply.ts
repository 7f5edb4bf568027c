/**
 * `apply`: makes the declared set true in one transaction. Catalog tools go first, then
 * agents, then toolbelts, so that a set may declare what it uses. Each document is compared
 * with what is stored (a server-side diff) and written only where it differs, so applying
 * the same set twice changes nothing. Nothing is deleted unless `prune` is set. Every
 * document's problems are collected; if there are any, the transaction is rolled back.
 */
import type { AgentManifest, CatalogToolManifest, Manifest } from '@toolbelt/schema';
import { getAgentByName, getCatalogToolByName } from '@toolbelt/schema';
import { isDeepStrictEqual } from 'node:util';
import { ApiError, type FieldProblem, formatPath } from '../errors.ts';
import { createAgentWrite, requireAgent, setEnvironment, updateAgentWrite } from '../ops/agents.ts';
import { catalogColumns, createCatalogWrite, updateCatalogWrite } from '../ops/catalog.ts';
import type { WriteContext } from '../ops/context.ts';
import type { IndexedManifest } from './documents.ts';
import { applyToolbelt } from './toolbelt.ts';
import { pruneUndeclared } from './prune.ts';

export type ApplyAction = 'created' | 'configured' | 'unchanged' | 'deleted';

/** One object's outcome: `configured` lists the fields that changed. */
export interface ApplyResult {
  kind: 'Agent' | 'CatalogTool' | 'Tool';
  name: string;
  action: ApplyAction;
  changes?: string[];
}

const ORDER: Manifest['kind'][] = ['CatalogTool', 'Agent', 'Toolbelt'];

/** Applies validated documents; throws the collected problems (rolling everything back). */
export async function applyDocuments(
  ctx: WriteContext,
  documents: IndexedManifest[],
  options: { prune: boolean },
): Promise<ApplyResult[]> {
  const results: ApplyResult[] = [];
  const problems: FieldProblem[] = [];
  const ordered = [...documents].sort((a, b) => ORDER.indexOf(a.manifest.kind) - ORDER.indexOf(b.manifest.kind) || a.index - b.index);
  for (const doc of ordered) {
    const path = ['documents', doc.index];
    try {
      // A savepoint per document: a refused write leaves the transaction usable for the rest.
      const out = await ctx.tx.transaction((sp) => applyOne({ ...ctx, tx: sp as unknown as WriteContext['tx'] }, doc.manifest, path));
      results.push(...out);
    } catch (error) {
      problems.push(...problemsOf(error, path));
    }
  }
  if (options.prune && problems.length === 0) {
    results.push(...(await pruneUndeclared(ctx, documents.map((d) => d.manifest))));
  }
  if (problems.length > 0) throw new ApplyProblems(problems);
  return results;
}

/** The problems of a refused set, to be reported against its documents. */
export class ApplyProblems extends Error {
  constructor(readonly problems: FieldProblem[]) {
    super('apply refused');
  }
}

/** An ApiError's field problems (or its message) under the document's path. */
function problemsOf(error: unknown, path: (string | number)[]): FieldProblem[] {
  if (!(error instanceof ApiError)) throw error;
  const prefix = formatPath(path);
  if (!error.details?.length) return [{ path: prefix, message: error.message }];
  return error.details.map((d) => ({ path: d.path === '(root)' ? prefix : `${prefix}.${d.path}`, message: d.message }));
}

async function applyOne(ctx: WriteContext, manifest: Manifest, path: (string | number)[]): Promise<ApplyResult[]> {
  switch (manifest.kind) {
    case 'CatalogTool':
      return [await applyCatalogTool(ctx, manifest)];
    case 'Agent':
      return [await applyAgent(ctx, manifest)];
    case 'Toolbelt':
      return applyToolbelt(ctx, manifest, path);
  }
}

async function applyCatalogTool(ctx: WriteContext, manifest: CatalogToolManifest): Promise<ApplyResult> {
  const name = manifest.metadata.name;
  const existing = await getCatalogToolByName(ctx.tx, name);
  if (!existing) {
    await createCatalogWrite(ctx, { ...manifest.spec, tool_name: name }, ['spec']);
    return { kind: 'CatalogTool', name, action: 'created' };
  }
  const wanted = catalogColumns(manifest.spec);
  const changes = (Object.keys(wanted) as (keyof typeof wanted)[]).filter((k) => !isDeepStrictEqual(wanted[k], existing[k]));
  if (changes.length === 0) return { kind: 'CatalogTool', name, action: 'unchanged' };
  await updateCatalogWrite(ctx, existing.id, Object.fromEntries(changes.map((k) => [k, wanted[k]])));
  return { kind: 'CatalogTool', name, action: 'configured', changes };
}

async function applyAgent(ctx: WriteContext, manifest: AgentManifest): Promise<ApplyResult> {
  const name = manifest.metadata.name;
  const { description = '', environment, external_id: externalId } = manifest.spec;
  if (!(await getAgentByName(ctx.tx, name))) {
    await createAgentWrite(ctx, { name, description, environment, external_id: externalId }, ['metadata']);
    return { kind: 'Agent', name, action: 'created' };
  }
  const agent = await requireAgent(ctx.tx, name, { lock: true });
  const changes: string[] = [];
  if (agent.description !== description) {
    await updateAgentWrite(ctx, agent.id, { description });
    changes.push('description');
  }
  // An omitted external_id is left as it is, like the environment.
  if (externalId !== undefined && agent.external_id !== externalId) {
    await updateAgentWrite(ctx, agent.id, { external_id: externalId });
    changes.push('external_id');
  }
  // An omitted environment is left as it is: the document does not manage it.
  if (environment) {
    const fresh = await requireAgent(ctx.tx, agent.id, { lock: true });
    changes.push(...(await setEnvironment(ctx, fresh, environment)).map((c) => `environment.${c}`));
  }
  return changes.length ? { kind: 'Agent', name, action: 'configured', changes } : { kind: 'Agent', name, action: 'unchanged' };
}
