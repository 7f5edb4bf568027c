/**
 * Pieces shared by the route files: pagination, path parameters, the error body's schema
 * and the error responses each route documents.
 */
import { z } from 'zod';
import type { ResponseDoc } from '../route.ts';

/** `?limit=&after=`: keyset pagination; `after` is the `next` of the previous page. */
export const pageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  after: z.string().min(1).optional(),
});

/** The next-page cursor: the last item's key when the page is full. */
export function nextCursor<T>(items: T[], limit: number, key: (item: T) => string): string | null {
  return items.length === limit && items.length > 0 ? key(items.at(-1)!) : null;
}

export const agentParams = z.strictObject({ id: z.string().min(1).describe('agent id, name, or ext:<external_id>') });

export const errorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    hint: z.string().optional(),
    details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});

const ERROR_MEANINGS: Record<number, string> = {
  400: 'invalid input; `details` names each bad field and why',
  401: 'no token, or a token that is unknown or revoked',
  403: "the token's role may not do this",
  404: 'no such resource',
  409: 'a name taken, a stale If-Match, or a resource in use or being deleted',
  413: 'the body is too large',
  415: 'the body is not JSON (or YAML where accepted)',
  429: 'too many at once; Retry-After says when to try again',
  501: 'not available in this controller',
};

/** Error responses with the shared error body. */
export function errors(...statuses: number[]): Record<number, ResponseDoc> {
  return Object.fromEntries(
    statuses.map((s) => [s, { description: ERROR_MEANINGS[s] ?? 'error', schema: errorBodySchema }]),
  );
}

/** The errors every authenticated route can answer. */
export const AUTH_ERRORS = [401, 403] as const;
