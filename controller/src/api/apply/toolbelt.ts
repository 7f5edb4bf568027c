/**
 * `kind: Toolbelt` in apply: each declared tool is checked against the catalog, then added
 * or changed where it differs from what is stored. Tools the document does not list are
 * left alone unless `prune` is set (see prune.ts).
 */
import { isDeepStrictEqual } from 'node:util';
import type { ToolbeltManifest, ToolInstanceSpecInput } from '@toolbelt/schema';
import { getAgentByName } from '@toolbelt/schema';
import { ApiError, type FieldProblem, formatPath, invalid } from '../errors.ts';
import { requireAgent } from '../ops/agents.ts';
import type { WriteContext } from '../ops/context.ts';
import { addToolWrite, listAgentTools, resolveToolSpec, type ToolPatch, type ToolRecord, updateToolWrite } from '../ops/tools.ts';
import type { ApplyResult } from './apply.ts';

export async function applyToolbelt(
  ctx: WriteContext,
  manifest: ToolbeltManifest,
  _path: (string | number)[],
): Promise<ApplyResult[]> {
  const agentName = manifest.metadata.name;
  if (!(await getAgentByName(ctx.tx, agentName))) {
    throw invalid([
      {
        path: 'metadata.name',
        message: `no agent is named "${agentName}"; declare it with kind: Agent in the same set, or create it first`,
      },
    ]);
  }
  const agent = await requireAgent(ctx.tx, agentName, { lock: true });
  const existing = await listAgentTools(ctx.tx, agent);
  const results: ApplyResult[] = [];
  const problems: FieldProblem[] = [];
  for (const [j, spec] of manifest.spec.tools.entries()) {
    const path = ['spec', 'tools', j];
    try {
      const result = await ctx.tx.transaction((sp) =>
        applyTool({ ...ctx, tx: sp as unknown as WriteContext['tx'] }, { agent, existing, spec, path }),
      );
      results.push({ ...result, name: `${agentName}/${result.name}` });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      problems.push(...(error.details?.length ? error.details : [{ path: formatPath(path), message: error.message }]));
    }
  }
  if (problems.length > 0) throw invalid(problems);
  return results;
}

interface ToolTarget {
  agent: Awaited<ReturnType<typeof requireAgent>>;
  existing: ToolRecord[];
  spec: ToolInstanceSpecInput;
  path: (string | number)[];
}

async function applyTool(ctx: WriteContext, target: ToolTarget): Promise<ApplyResult> {
  const { agent, existing, spec, path } = target;
  const resolved = await resolveToolSpec(ctx, spec, path);
  const current = existing.find((t) => t.tool.instance_name === resolved.instanceName);
  if (!current) {
    await addToolWrite(ctx, agent, spec, path);
    return { kind: 'Tool', name: resolved.instanceName, action: 'created' };
  }
  if (current.tool.tool_catalog_id !== resolved.catalog.id) {
    throw invalid([
      {
        path: formatPath([...path, 'tool_name']),
        message: `instance "${resolved.instanceName}" is a "${current.toolName}"; remove it first or pick another instance_name`,
      },
    ]);
  }
  const wanted: Required<ToolPatch> = {
    version: resolved.version,
    config_details: resolved.config,
    secret_refs: resolved.secretRefs,
    desired_state: resolved.desiredState,
    allowed_tools: resolved.allowedTools,
    denied_tools: resolved.deniedTools,
  };
  const stored: Required<ToolPatch> = {
    version: current.tool.version,
    config_details: current.tool.config_details,
    secret_refs: current.tool.secret_refs,
    desired_state: current.tool.desired_state,
    allowed_tools: current.tool.allowed_tools,
    denied_tools: current.tool.denied_tools,
  };
  const changes = (Object.keys(wanted) as (keyof ToolPatch)[]).filter((k) => !isDeepStrictEqual(wanted[k], stored[k]));
  if (changes.length === 0 && !current.tool.deletion_requested_at) {
    return { kind: 'Tool', name: resolved.instanceName, action: 'unchanged' };
  }
  await updateToolWrite(ctx, { agent, record: current }, wanted, { path });
  return { kind: 'Tool', name: resolved.instanceName, action: 'configured', changes };
}
