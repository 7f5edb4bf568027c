/**
 * Queries on the tool catalog.
 */
import { and, asc, count, eq, gt, inArray, sql } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import { isStillReferenced } from './errors.ts';
import { type Conflict, type Found, type InUse, type NotFound, notFound, ok, uniqueOrConflict } from './outcomes.ts';
import { rowsOf } from './raw.ts';
import { agentDropletTools, toolCatalog } from './tables.ts';

export type CatalogTool = typeof toolCatalog.$inferSelect;
export type CatalogToolSpec = Omit<typeof toolCatalog.$inferInsert, 'id' | 'generation' | 'created_at' | 'updated_at'>;

export async function createCatalogTool(db: DbOrTx, spec: CatalogToolSpec): Promise<Found<CatalogTool> | Conflict> {
  return uniqueOrConflict(async () => {
    const [row] = await db.insert(toolCatalog).values(spec).returning();
    return row!;
  }, `a catalog tool named "${spec.tool_name}" already exists`);
}

export async function getCatalogTool(db: DbOrTx, id: string): Promise<CatalogTool | undefined> {
  const [row] = await db.select().from(toolCatalog).where(eq(toolCatalog.id, id));
  return row;
}

export async function getCatalogToolByName(db: DbOrTx, name: string): Promise<CatalogTool | undefined> {
  const [row] = await db.select().from(toolCatalog).where(eq(toolCatalog.tool_name, name));
  return row;
}

/** Catalog tools in name order, `limit` at a time after the name `after`. */
export async function listCatalogTools(db: DbOrTx, page: { limit: number; after?: string }): Promise<CatalogTool[]> {
  return db
    .select()
    .from(toolCatalog)
    .where(page.after === undefined ? undefined : gt(toolCatalog.tool_name, page.after))
    .orderBy(asc(toolCatalog.tool_name))
    .limit(page.limit);
}

export async function updateCatalogTool(
  db: DbOrTx,
  id: string,
  patch: Partial<CatalogToolSpec>,
): Promise<Found<CatalogTool> | NotFound | Conflict> {
  const result = await uniqueOrConflict(
    () => db.update(toolCatalog).set(patch).where(eq(toolCatalog.id, id)).returning(),
    `a catalog tool named "${patch.tool_name}" already exists`,
  );
  if (result.kind === 'conflict') return result;
  const [row] = result.value;
  return row ? ok(row) : notFound;
}

/** Deletes a catalog tool; one that tool instances still use is `in_use`. */
export async function deleteCatalogTool(db: DbOrTx, id: string): Promise<Found<string> | NotFound | InUse> {
  try {
    const rows = await db.delete(toolCatalog).where(eq(toolCatalog.id, id)).returning({ id: toolCatalog.id });
    return rows.length > 0 ? ok(id) : notFound;
  } catch (error) {
    if (!isStillReferenced(error)) throw error;
    return { kind: 'in_use', reason: `catalog tool ${id} is installed by at least one agent; remove those tools first` };
  }
}

/** Every port any catalog tool listens on, ascending (the fleet firewall opens these). */
export async function catalogToolPorts(db: DbOrTx): Promise<number[]> {
  const rows = rowsOf<{ port: number | string }>(
    await db.execute(sql`select distinct (jsonb_array_elements_text(${toolCatalog.ports}))::int as port from ${toolCatalog} order by 1`),
  );
  return rows.map((r) => Number(r.port)).filter((p) => Number.isInteger(p) && p >= 1 && p <= 65535);
}

/** How many tool instances run each of `versions` of a catalog tool (only versions in use). */
export async function toolVersionsInUse(
  db: DbOrTx,
  catalogToolId: string,
  versions: string[],
): Promise<{ version: string; n: number }[]> {
  return db
    .select({ version: agentDropletTools.version, n: count() })
    .from(agentDropletTools)
    .where(and(eq(agentDropletTools.tool_catalog_id, catalogToolId), inArray(agentDropletTools.version, versions)))
    .groupBy(agentDropletTools.version)
    .orderBy(asc(agentDropletTools.version));
}
