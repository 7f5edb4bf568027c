/**
 * Reconcile events: a list (newest first) and a live stream over Server-Sent Events. Filter
 * by object with `object=ID` (any kind) or `object=KIND/ID`, repeatable. Streams share one
 * source (event-feed.ts) and are capped per token and in all (429 with Retry-After).
 */
import type { ServerResponse } from 'node:http';
import { type Event, type EventFilter, listEventsChangedSince, listRecentEvents } from '@toolbelt/schema';
import { z } from 'zod';
import type { ApiDeps } from '../deps.ts';
import { type EventCursor, isAfter } from '../event-feed.ts';
import { invalidField } from '../errors.ts';
import { type AnyRoute, defineRoute } from '../route.ts';
import { eventView, eventViewSchema } from '../views.ts';
import { AUTH_ERRORS, errors } from './common.ts';

const TAG = 'events';
/** A comment line keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

const objectParam = z
  .union([z.string().min(1), z.array(z.string().min(1))])
  .optional()
  .describe('ID or KIND/ID of the object whose events to show; repeatable');

const filterQuery = z.strictObject({
  object: objectParam,
  kind: z.string().min(1).optional().describe('only objects of this kind'),
});

/** Turns `object`/`kind` query values into a filter; `KIND/ID` sets both. */
function toFilter(query: { object?: string | string[] | undefined; kind?: string | undefined }): EventFilter {
  const objects = query.object === undefined ? [] : [query.object].flat();
  let kind = query.kind;
  const ids = objects.map((o) => {
    const slash = o.indexOf('/');
    if (slash < 0) return o;
    const k = o.slice(0, slash);
    if (kind !== undefined && kind !== k) throw invalidField(['query', 'object'], `mixes kinds "${kind}" and "${k}"; ask once per kind`);
    kind = k;
    return o.slice(slash + 1);
  });
  return { objectIds: ids.length ? ids : undefined, objectKind: kind };
}

/** An event's cursor: its last_seen (ms) and id — the SSE id a reconnect resumes from, and the list's page cursor. */
const cursorOf = (lastSeen: Date, id: number) => `${lastSeen.getTime()}.${id}`;
function parseCursor(value: string | undefined): { since: Date; afterId: number } | undefined {
  const match = value === undefined ? null : /^(\d+)\.(\d+)$/.exec(value);
  return match ? { since: new Date(Number(match[1])), afterId: Number(match[2]) } : undefined;
}

const listEventsRoute = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'GET',
    path: '/v1/events',
    summary: 'Recent reconcile events, newest first',
    tag: TAG,
    access: 'viewer',
    query: filterQuery.extend({
      limit: z.coerce.number().int().min(1).max(1000).default(100),
      before: z.string().regex(/^\d+\.\d+$/).optional().describe('the `next` of the previous page'),
    }),
    responses: {
      200: { description: 'events, and the cursor of the next (older) page', schema: z.object({ items: z.array(eventViewSchema), next: z.string().nullable() }) },
      ...errors(400, ...AUTH_ERRORS),
    },
    async handle({ query }) {
      const cursor = parseCursor(query.before);
      const before = cursor ? { lastSeen: cursor.since, id: cursor.afterId } : undefined;
      const rows = await listRecentEvents(deps.db, { ...toFilter(query), limit: query.limit, before });
      const next = rows.length === query.limit ? cursorOf(rows.at(-1)!.last_seen, rows.at(-1)!.id) : null;
      return { status: 200, body: { items: rows.map(eventView), next } };
    },
  });

/** Whether an event is one the stream's filter asks for (the feed hands over every event). */
function wanted(filter: EventFilter, row: Event): boolean {
  if (filter.objectKind !== undefined && row.object_kind !== filter.objectKind) return false;
  return filter.objectIds === undefined || filter.objectIds.includes(row.object_id);
}

/**
 * One stream: join the shared feed first (holding what it hands over), catch up from the
 * stream's own cursor with its filter, then deliver the held and the live events past the
 * cursor — each event once, in order.
 */
async function stream(deps: ApiDeps, res: ServerResponse, options: { filter: EventFilter; cursor: EventCursor }) {
  const abort = new AbortController();
  const stop = () => abort.abort();
  res.once('close', stop);
  deps.signal.addEventListener('abort', stop, { once: true });
  const cursor = { ...options.cursor };
  const deliver = (row: Event) => {
    if (!wanted(options.filter, row) || !isAfter(row, cursor)) return;
    res.write(`id: ${cursorOf(row.last_seen, row.id)}\nevent: event\ndata: ${JSON.stringify(eventView(row))}\n\n`);
    cursor.since = new Date(row.last_seen.getTime());
    cursor.afterId = row.id;
  };
  let held: Event[] | undefined = [];
  const unsubscribe = deps.events.subscribe((rows) => (held ? held.push(...rows) : rows.forEach(deliver)));
  try {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
    res.write(': toolbelt event stream\n\n');
    for (let more = true; more && !abort.signal.aborted; ) {
      const rows = await listEventsChangedSince(deps.db, { ...options.filter, ...cursor, limit: 200 });
      rows.forEach(deliver);
      more = rows.length === 200;
    }
    const caughtUp = held;
    held = undefined;
    caughtUp.forEach(deliver);
    while (!abort.signal.aborted) {
      await deps.clock.sleep(KEEPALIVE_MS, abort.signal).catch(() => {});
      if (!abort.signal.aborted) res.write(': keepalive\n\n');
    }
  } finally {
    unsubscribe();
    deps.signal.removeEventListener('abort', stop);
    res.end();
  }
}

const streamEventsRoute = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'GET',
    path: '/v1/events/stream',
    summary: 'Follow reconcile events live (Server-Sent Events; resumes from Last-Event-ID)',
    tag: TAG,
    access: 'viewer',
    query: filterQuery.extend({ since: z.iso.datetime().optional().describe('start after this time (default: now)') }),
    responses: {
      200: { description: 'an event stream; each `data:` is one event as JSON', contentType: 'text/event-stream' },
      ...errors(400, ...AUTH_ERRORS, 429),
    },
    async handle({ query, req, res, caller }) {
      const resume = parseCursor(req.headers['last-event-id'] as string | undefined);
      const since = resume?.since ?? (query.since ? new Date(query.since) : new Date(deps.clock.now()));
      const filter = toFilter(query);
      const release = deps.events.admit(caller!.tokenId);
      try {
        await stream(deps, res, { filter, cursor: { since, afterId: resume?.afterId ?? 0 } });
      } finally {
        release();
      }
      return undefined;
    },
  });

/** The event routes. */
export const eventRoutes = (deps: ApiDeps): AnyRoute[] => [listEventsRoute(deps), streamEventsRoute(deps)];
