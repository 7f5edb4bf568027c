/**
 * `apply --prune`: removes what the set no longer declares, within the kinds it declares —
 * tools of each declared Toolbelt that it does not list; agents, if the set declares any
 * Agent, that it does not name; catalog tools, if it declares any CatalogTool, that it does
 * not name (refused while agents still have them installed). Run with `dryRun` first.
 */
import type { Manifest } from '@toolbelt/schema';
import { listAgents, listCatalogTools, rowsOf } from '@toolbelt/schema';
import { sql } from 'drizzle-orm';
import { conflictError } from '../errors.ts';
import { deleteAgentWrite, requireAgent } from '../ops/agents.ts';
import { deleteCatalogWrite } from '../ops/catalog.ts';
import type { WriteContext } from '../ops/context.ts';
import { listAgentTools, removeToolWrite } from '../ops/tools.ts';
import type { ApplyResult } from './apply.ts';

const ALL = 100_000;

export async function pruneUndeclared(ctx: WriteContext, manifests: Manifest[]): Promise<ApplyResult[]> {
  const declared = (kind: Manifest['kind']) => new Set(manifests.filter((m) => m.kind === kind).map((m) => m.metadata.name));
  const results: ApplyResult[] = [];
  for (const manifest of manifests) {
    if (manifest.kind === 'Toolbelt') results.push(...(await pruneTools(ctx, manifest)));
  }
  const agents = declared('Agent');
  if (agents.size > 0) {
    for (const agent of await listAgents(ctx.tx, { limit: ALL })) {
      if (agents.has(agent.name) || agent.deletion_requested_at) continue;
      await deleteAgentWrite(ctx, agent.id);
      results.push({ kind: 'Agent', name: agent.name, action: 'deleted' });
    }
  }
  const catalog = declared('CatalogTool');
  if (catalog.size > 0) {
    for (const tool of await listCatalogTools(ctx.tx, { limit: ALL })) {
      if (catalog.has(tool.tool_name)) continue;
      const uses = rowsOf<{ n: number }>(
        await ctx.tx.execute(sql`select count(*)::int as n from agent_droplet_tools where tool_catalog_id = ${tool.id}`),
      )[0]?.n;
      if (uses) {
        throw conflictError(
          `cannot prune catalog tool "${tool.tool_name}": ${uses} tool instance(s) still use it`,
          'prune or remove those tools first (their rows go once uninstalled), then apply again',
        );
      }
      await deleteCatalogWrite(ctx, tool.id);
      results.push({ kind: 'CatalogTool', name: tool.tool_name, action: 'deleted' });
    }
  }
  return results;
}

async function pruneTools(ctx: WriteContext, manifest: Extract<Manifest, { kind: 'Toolbelt' }>): Promise<ApplyResult[]> {
  const agent = await requireAgent(ctx.tx, manifest.metadata.name);
  const listed = new Set(manifest.spec.tools.map((t) => t.instance_name ?? t.tool_name));
  const results: ApplyResult[] = [];
  for (const record of await listAgentTools(ctx.tx, agent)) {
    if (listed.has(record.tool.instance_name) || record.tool.deletion_requested_at) continue;
    await removeToolWrite(ctx, record);
    results.push({ kind: 'Tool', name: `${agent.name}/${record.tool.instance_name}`, action: 'deleted' });
  }
  return results;
}
