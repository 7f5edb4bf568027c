/**
 * Authorization by object kind: which role may write each kind of object. Every write path
 * declares the kinds it writes (`RouteDef.writes`) and the registry decides with this table
 * — for `apply`, per document, prune included (a set may only delete within the kinds it
 * declares). A route whose `access` is looser than what it writes is refused when it is
 * registered, so a new route cannot open a kind by accident.
 */
import type { ApiRole, ManifestKind } from '@toolbelt/schema';
import { allows, ROLE_MEANING } from './auth.ts';
import { ApiError } from './errors.ts';
import type { AnyRoute, Caller } from './route.ts';

/** The kinds of object the API writes. */
export type ObjectKind = 'Agent' | 'Environment' | 'Tool' | 'Secret' | 'CatalogTool' | 'ApiToken' | 'CallerToken';

/** The least role that may create, change or delete each kind. */
export const WRITER_ROLE: Record<ObjectKind, ApiRole> = {
  Agent: 'operator',
  Environment: 'operator',
  Tool: 'operator',
  Secret: 'operator',
  // Every droplet installs what the catalog names: only admins choose what that is.
  CatalogTool: 'admin',
  ApiToken: 'admin',
  // A caller token reaches one agent's gateway, which an operator may use anyway.
  CallerToken: 'operator',
};

/** What applying (or pruning) a document of each manifest kind writes. */
export const MANIFEST_WRITES: Record<ManifestKind, readonly ObjectKind[]> = {
  Agent: ['Agent', 'Environment'],
  CatalogTool: ['CatalogTool'],
  Toolbelt: ['Tool'],
};

/** The kinds the raw documents of an `apply` body write (unknown kinds are left to validation). */
export function manifestWrites(documents: unknown): ObjectKind[] {
  if (!Array.isArray(documents)) return [];
  const kinds = new Set<ObjectKind>();
  for (const doc of documents) {
    const kind = (doc as { kind?: unknown } | null)?.kind;
    if (typeof kind === 'string' && Object.hasOwn(MANIFEST_WRITES, kind)) MANIFEST_WRITES[kind as ManifestKind].forEach((k) => kinds.add(k));
  }
  return [...kinds];
}

/** 403 unless `caller` may write every kind in `kinds`, naming the first it may not. */
export function authorizeWrites(caller: Caller | undefined, kinds: readonly ObjectKind[]): void {
  if (!caller) return;
  const denied = kinds.find((kind) => !allows(caller.role, WRITER_ROLE[kind]));
  if (denied === undefined) return;
  const needed = WRITER_ROLE[denied];
  throw new ApiError(403, 'FORBIDDEN', `token "${caller.name}" has role ${caller.role}; writing ${denied} objects needs ${needed}`, {
    hint: `${needed} tokens may ${ROLE_MEANING[needed]}; ask an admin for one`,
  });
}

/** Throws (at registration) when a route's access is looser than a kind it always writes needs. */
export function checkRouteAccess(route: AnyRoute): void {
  if (typeof route.writes !== 'object') return;
  const loose = route.writes.find((kind) => route.access === 'public' || !allows(route.access as ApiRole, WRITER_ROLE[kind]));
  if (loose !== undefined) {
    throw new Error(`route ${route.method} ${route.path} writes ${loose} with access ${route.access}; it needs ${WRITER_ROLE[loose]}`);
  }
}
