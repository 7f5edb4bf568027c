/**
 * Writes on an agent's tool instances, shared by the routes and `apply`. Each tool is
 * checked against the catalog: the tool must exist, its version must be one the catalog
 * offers, its config must satisfy the catalog's template (defaults filled in), and every
 * secret the template names must be bound by name. A change is announced in the write's
 * transaction as its environment's `tools` key (`announceToolsChange`).
 */
import { isDeepStrictEqual } from 'node:util';
import {
  type Agent,
  addToolInstance,
  announceGatewayLists,
  announceToolsChange,
  type CatalogTool,
  type Db,
  getCatalogTool,
  getCatalogToolByName,
  getEnvironmentByAgent,
  isUuid,
  listToolsWithCatalogNames,
  lockToolInstance,
  requestToolRemoval,
  type ToolInstance,
  type ToolInstanceSpecInput,
  updateToolSpec,
} from '@toolbelt/schema';
import { isReservedEnvName, RESERVED_ENV_HINT } from '@toolbelt/schema/protocol';
import { ApiError, type FieldProblem, formatPath, invalid, notFoundError, staleError } from '../errors.ts';
import { assertNotDeleting, ensureEnvironment, expectedGeneration } from './agents.ts';
import type { WriteContext } from './context.ts';

/** A tool instance with its catalog tool's name. */
export interface ToolRecord {
  tool: ToolInstance;
  toolName: string;
}

/** The agent's tool instances (none when it has no environment yet). */
export async function listAgentTools(db: Db, agent: Agent): Promise<ToolRecord[]> {
  const environment = await getEnvironmentByAgent(db, agent.id);
  return environment ? listToolsWithCatalogNames(db, environment.id) : [];
}

/** One of the agent's tools by instance id or instance name, or 404. */
export async function requireAgentTool(db: Db, agent: Agent, ref: string): Promise<ToolRecord> {
  const tools = await listAgentTools(db, agent);
  const found = tools.find((t) => (isUuid(ref) ? t.tool.id === ref : t.tool.instance_name === ref));
  if (!found) {
    throw notFoundError(`tool "${ref}" of agent "${agent.name}"`, `list its tools with GET /v1/agents/${agent.name}/tools`);
  }
  return found;
}

/** The spec a tool instance would get, with the catalog's default version and config defaults. */
export interface ResolvedTool {
  catalog: CatalogTool;
  instanceName: string;
  version: string;
  config: Record<string, unknown>;
  secretRefs: Record<string, string>;
  desiredState: 'running' | 'stopped';
  /** The gateway's filters (null: none). */
  allowedTools: string[] | null;
  deniedTools: string[] | null;
}

/** Checks a tool spec against the catalog; every problem is reported at once, under `path`. */
export async function resolveToolSpec(
  ctx: WriteContext,
  spec: ToolInstanceSpecInput,
  path: readonly PropertyKey[],
): Promise<ResolvedTool> {
  const catalog = await getCatalogToolByName(ctx.tx, spec.tool_name);
  if (!catalog) {
    throw invalid([
      {
        path: formatPath([...path, 'tool_name']),
        message: `no catalog tool is named "${spec.tool_name}" (see GET /v1/catalog)`,
      },
    ]);
  }
  const version = spec.version ?? catalog.version_info.default;
  const checked = checkAgainstCatalog(ctx, catalog, { version, config: spec.config_details ?? {}, secretRefs: spec.secret_refs ?? {} }, path);
  return {
    catalog,
    instanceName: spec.instance_name ?? spec.tool_name,
    version,
    config: checked,
    secretRefs: spec.secret_refs ?? {},
    desiredState: spec.desired_state ?? 'running',
    allowedTools: spec.allowed_tools ?? null,
    deniedTools: spec.denied_tools ?? null,
  };
}

/**
 * Secret bindings may name only the variables the catalog entry declares for secrets, and
 * never a reserved one: a binding to NODE_OPTIONS or LD_PRELOAD would run code of the
 * operator's choosing on the droplet.
 */
function bindingProblems(ctx: WriteContext, catalog: CatalogTool, secretRefs: Record<string, string>, path: readonly PropertyKey[]): FieldProblem[] {
  const declared = ctx.configs.secretVariables(catalog);
  const problems: FieldProblem[] = [];
  for (const variable of Object.keys(secretRefs)) {
    const at = formatPath([...path, 'secret_refs', variable]);
    if (isReservedEnvName(variable)) problems.push({ path: at, message: `${variable} is reserved: ${RESERVED_ENV_HINT}` });
    else if (!declared.includes(variable)) {
      const offered = declared.length > 0 ? `it declares ${declared.join(', ')}` : 'it declares none';
      problems.push({ path: at, message: `"${catalog.tool_name}" declares no secret variable ${variable} (x-toolbelt-secrets, x-toolbelt-optional-secrets); ${offered}` });
    }
  }
  return problems;
}

/** Version, config and secret bindings against the catalog; returns the config with defaults. */
function checkAgainstCatalog(
  ctx: WriteContext,
  catalog: CatalogTool,
  spec: { version: string; config: Record<string, unknown>; secretRefs: Record<string, string> },
  path: readonly PropertyKey[],
): Record<string, unknown> {
  const problems: FieldProblem[] = [];
  if (!catalog.version_info.versions.includes(spec.version)) {
    problems.push({
      path: formatPath([...path, 'version']),
      message: `"${catalog.tool_name}" has no version "${spec.version}"; it offers ${catalog.version_info.versions.join(', ')}`,
    });
  }
  const checked = ctx.configs.check(catalog, spec.config, [...path, 'config_details']);
  problems.push(...checked.problems);
  for (const variable of ctx.configs.requiredSecrets(catalog)) {
    if (spec.secretRefs[variable] === undefined) {
      problems.push({
        path: formatPath([...path, 'secret_refs', variable]),
        message: `"${catalog.tool_name}" needs ${variable} bound to one of the agent's secrets (by name)`,
      });
    }
  }
  problems.push(...bindingProblems(ctx, catalog, spec.secretRefs, path));
  if (problems.length > 0) throw invalid(problems);
  return checked.config;
}

/** Adds a tool to the agent's toolbelt (creating its environment, inactive, when missing). */
export async function addToolWrite(
  ctx: WriteContext,
  agent: Agent,
  spec: ToolInstanceSpecInput,
  path: readonly PropertyKey[] = [],
): Promise<ToolRecord> {
  assertNotDeleting(agent);
  const resolved = await resolveToolSpec(ctx, spec, path);
  const environment = await ensureEnvironment(ctx, agent);
  const added = await addToolInstance(ctx.tx, environment.id, {
    tool_catalog_id: resolved.catalog.id,
    instance_name: resolved.instanceName,
    version: resolved.version,
    config_details: resolved.config,
    secret_refs: resolved.secretRefs,
    desired_state: resolved.desiredState,
    allowed_tools: resolved.allowedTools,
    denied_tools: resolved.deniedTools,
  });
  if (added.kind === 'conflict') {
    throw new ApiError(409, 'CONFLICT', `agent "${agent.name}" already has a tool named "${resolved.instanceName}"`, {
      hint: 'set instance_name to install the same tool twice, or PATCH the existing one',
      details: [{ path: formatPath([...path, spec.instance_name ? 'instance_name' : 'tool_name']), message: 'is taken' }],
    });
  }
  await announceToolsChange(ctx.tx, added.value.agent_droplet_id);
  return { tool: added.value, toolName: resolved.catalog.tool_name };
}

/** What a PATCH of a tool may change. */
export interface ToolPatch {
  version?: string | undefined;
  config_details?: Record<string, unknown> | undefined;
  secret_refs?: Record<string, string> | undefined;
  desired_state?: 'running' | 'stopped' | undefined;
  /** null removes the filter. */
  allowed_tools?: string[] | null | undefined;
  denied_tools?: string[] | null | undefined;
}

/** Changes a tool's version, config, secret bindings, desired state or filters, re-checked against the catalog. */
export async function updateToolWrite(
  ctx: WriteContext,
  target: { agent: Agent; record: ToolRecord },
  patch: ToolPatch,
  options: { ifMatch?: string | undefined; path?: readonly PropertyKey[] } = {},
): Promise<ToolRecord> {
  const { agent, record } = target;
  assertNotDeleting(agent);
  const current = (await lockToolInstance(ctx.tx, record.tool.id))!;
  const expected = expectedGeneration(options.ifMatch);
  if (expected !== undefined && expected !== current.generation) {
    throw staleError(`tool "${current.instance_name}"`, String(expected), String(current.generation));
  }
  if (current.deletion_requested_at) {
    throw new ApiError(409, 'CONFLICT', `tool "${current.instance_name}" is being removed`, { hint: 'add it again once it is gone' });
  }
  const catalog = (await getCatalogTool(ctx.tx, current.tool_catalog_id))!;
  const next = {
    version: patch.version ?? current.version,
    config: patch.config_details ?? current.config_details,
    secretRefs: patch.secret_refs ?? current.secret_refs,
  };
  const config = checkAgainstCatalog(ctx, catalog, next, options.path ?? []);
  const updated = await updateToolSpec(ctx.tx, current.id, {
    version: next.version,
    config_details: config,
    secret_refs: next.secretRefs,
    ...givenFields(patch, ['desired_state', 'allowed_tools', 'denied_tools']),
  });
  if (updated.kind !== 'ok') throw notFoundError(`tool "${current.instance_name}"`);
  if (updated.value.generation !== current.generation) await announceToolsChange(ctx.tx, current.agent_droplet_id);
  const filtersChanged = !isDeepStrictEqual([current.allowed_tools, current.denied_tools], [updated.value.allowed_tools, updated.value.denied_tools]);
  if (filtersChanged) await announceGatewayLists(ctx.tx, agent.id);
  return { tool: updated.value, toolName: record.toolName };
}

/** The fields of `patch` among `keys` that were given (undefined: leave as is; null clears). */
function givenFields<K extends keyof ToolPatch>(patch: ToolPatch, keys: readonly K[]): Pick<ToolPatch, K> {
  return Object.fromEntries(keys.filter((k) => patch[k] !== undefined).map((k) => [k, patch[k]])) as Pick<ToolPatch, K>;
}

/** Marks a tool for removal; the reconciler uninstalls it and then the row goes. */
export async function removeToolWrite(ctx: WriteContext, record: ToolRecord, ifMatch?: string): Promise<ToolRecord> {
  const expected = expectedGeneration(ifMatch);
  if (expected !== undefined && expected !== record.tool.generation) {
    throw staleError(`tool "${record.tool.instance_name}"`, String(expected), String(record.tool.generation));
  }
  const removed = await requestToolRemoval(ctx.tx, record.tool.id);
  if (removed.kind !== 'ok') throw notFoundError(`tool "${record.tool.instance_name}"`);
  await announceToolsChange(ctx.tx, record.tool.agent_droplet_id);
  return { tool: removed.value, toolName: record.toolName };
}
