/**
 * The two drivers answer raw `db.execute` differently: postgres.js with an array of rows,
 * PGlite with `{ rows }`. `rowsOf` gives the rows either way.
 */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  const rows = (result as { rows?: unknown }).rows;
  if (Array.isArray(rows)) return rows as T[];
  throw new TypeError('unexpected result shape from db.execute');
}
