/**
 * Writes on the tool catalog (admin only), shared by the routes and `apply`.
 */
import {
  type CatalogTool,
  type CatalogToolSpecInput,
  createCatalogTool,
  type Db,
  deleteCatalogTool,
  getCatalogTool,
  getCatalogToolByName,
  isUuid,
  lockCatalogTool,
  toolVersionsInUse,
  updateCatalogTool,
} from '@toolbelt/schema';
import { ApiError, conflictError, formatPath, invalid, notFoundError, staleError } from '../errors.ts';
import { expectedGeneration } from './agents.ts';
import type { WriteContext } from './context.ts';

/** A catalog tool by id or by name. */
export async function findCatalogTool(db: Db, ref: string): Promise<CatalogTool | undefined> {
  return isUuid(ref) ? getCatalogTool(db, ref) : getCatalogToolByName(db, ref);
}

export async function requireCatalogTool(db: Db, ref: string): Promise<CatalogTool> {
  const tool = await findCatalogTool(db, ref);
  if (!tool) throw notFoundError(`catalog tool "${ref}"`, 'list the catalog with GET /v1/catalog (toolbelt get catalog)');
  return tool;
}

/** The spec columns of a catalog tool, with the table's defaults for omitted fields. */
export function catalogColumns(spec: CatalogToolSpecInput) {
  return {
    description: spec.description ?? '',
    version_info: spec.version_info,
    packaging_type: spec.packaging_type,
    package_identifier: spec.package_identifier,
    default_config_template: spec.default_config_template ?? {},
    transport: spec.transport ?? 'none',
    ports: spec.ports ?? [],
    health_check: spec.health_check ?? null,
  };
}

function checkTemplate(ctx: WriteContext, template: Record<string, unknown> | undefined, path: readonly PropertyKey[]): void {
  if (template === undefined) return;
  const problem = ctx.configs.templateProblem(template);
  if (problem) throw invalid([{ path: formatPath([...path, 'default_config_template']), message: problem }]);
}

function nameTaken(reason: string, path: readonly PropertyKey[]): ApiError {
  return new ApiError(409, 'CONFLICT', reason, { details: [{ path: formatPath([...path, 'tool_name']), message: 'is taken' }] });
}

export async function createCatalogWrite(
  ctx: WriteContext,
  input: CatalogToolSpecInput & { tool_name: string },
  path: readonly PropertyKey[] = [],
): Promise<CatalogTool> {
  checkTemplate(ctx, input.default_config_template, path);
  const created = await createCatalogTool(ctx.tx, { tool_name: input.tool_name, ...catalogColumns(input) });
  if (created.kind === 'conflict') throw nameTaken(created.reason, path);
  return created.value;
}

/** Changes a catalog tool; `ifMatch` guards against a stale write. */
export async function updateCatalogWrite(
  ctx: WriteContext,
  ref: string,
  patch: Partial<CatalogToolSpecInput & { tool_name: string }>,
  ifMatch?: string,
): Promise<CatalogTool> {
  const found = await requireCatalogTool(ctx.tx, ref);
  const current = (await lockCatalogTool(ctx.tx, found.id))!;
  const expected = expectedGeneration(ifMatch);
  if (expected !== undefined && expected !== current.generation) {
    throw staleError(`catalog tool "${current.tool_name}"`, String(expected), String(current.generation));
  }
  checkTemplate(ctx, patch.default_config_template, []);
  if (patch.version_info) await checkVersionsKept(ctx, current, patch.version_info.versions);
  const clean = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
  const updated = await updateCatalogTool(ctx.tx, current.id, clean);
  if (updated.kind === 'not_found') throw notFoundError(`catalog tool "${ref}"`);
  if (updated.kind === 'conflict') throw nameTaken(updated.reason, []);
  return updated.value;
}

/** Refuses to drop a version that tool instances still run (they would be left unresolvable). */
async function checkVersionsKept(ctx: WriteContext, tool: CatalogTool, versions: string[]): Promise<void> {
  const dropped = tool.version_info.versions.filter((v) => !versions.includes(v));
  if (dropped.length === 0) return;
  const users = await toolVersionsInUse(ctx.tx, tool.id, dropped);
  if (users.length === 0) return;
  throw new ApiError(409, 'CONFLICT', `catalog tool "${tool.tool_name}" cannot drop version(s) still installed: ${users.map((u) => `${u.version} (${u.n} tool(s))`).join(', ')}`, {
    hint: 'move those tools to another version first (PATCH their version), then drop it',
    details: [{ path: 'version_info.versions', message: `still installed: ${users.map((u) => u.version).join(', ')}` }],
  });
}

/** Deletes a catalog tool no agent uses; one in use is a 409 naming what to do. */
export async function deleteCatalogWrite(ctx: WriteContext, ref: string, ifMatch?: string): Promise<void> {
  const found = await requireCatalogTool(ctx.tx, ref);
  const expected = expectedGeneration(ifMatch);
  if (expected !== undefined && expected !== found.generation) {
    throw staleError(`catalog tool "${found.tool_name}"`, String(expected), String(found.generation));
  }
  const result = await deleteCatalogTool(ctx.tx, found.id);
  if (result.kind === 'not_found') throw notFoundError(`catalog tool "${ref}"`);
  if (result.kind === 'in_use') {
    throw conflictError(`catalog tool "${found.tool_name}" is installed by at least one agent`, 'remove those tools first');
  }
}
