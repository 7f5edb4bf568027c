/**
 * Queries on the tool catalog.
 */
import { asc, eq, gt } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import { isStillReferenced } from './errors.ts';
import { type Conflict, type Found, type InUse, type NotFound, notFound, ok, uniqueOrConflict } from './outcomes.ts';
import { toolCatalog } from './tables.ts';

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
