/**
 * Event reads for following a stream and for describing several objects at once. A
 * repeated event folds into its row (count and last_seen grow, the id stays), so a follower
 * tracks `last_seen`, not the id.
 */
import { and, asc, desc, eq, gt, inArray, or, type SQL, sql } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import type { Event } from './events.ts';
import { events } from './tables.ts';

/** Which objects' events to read: by id (any kind) and/or by kind. */
export interface EventFilter {
  objectIds?: string[] | undefined;
  objectKind?: string | undefined;
}

function filterSql(filter: EventFilter): SQL[] {
  const parts: SQL[] = [];
  if (filter.objectIds && filter.objectIds.length > 0) parts.push(inArray(events.object_id, filter.objectIds));
  if (filter.objectKind) parts.push(eq(events.object_kind, filter.objectKind));
  return parts;
}

/**
 * The newest events of the filtered objects, newest first; `before` (an event's last_seen
 * and id) pages further back.
 */
export async function listRecentEvents(
  db: DbOrTx,
  query: EventFilter & { limit: number; before?: { lastSeen: Date; id: number } | undefined },
): Promise<Event[]> {
  const parts = filterSql(query);
  if (query.before) {
    const seen = sql`date_trunc('milliseconds', ${events.last_seen})`;
    const at = sql`${query.before.lastSeen.toISOString()}::timestamptz`;
    parts.push(or(sql`${seen} < ${at}`, and(sql`${seen} = ${at}`, sql`${events.id} < ${query.before.id}`))!);
  }
  return db
    .select()
    .from(events)
    .where(parts.length ? and(...parts) : undefined)
    .orderBy(desc(sql`date_trunc('milliseconds', ${events.last_seen})`), desc(events.id))
    .limit(query.limit);
}

/**
 * Events created or repeated after the cursor `(lastSeen, id)`, oldest first: what a
 * follower has not seen yet. A fold moves an event's last_seen past the cursor, so it is
 * delivered again with its new count.
 */
export async function listEventsChangedSince(
  db: DbOrTx,
  query: EventFilter & { since: Date; afterId: number; limit: number },
): Promise<Event[]> {
  // Compared at millisecond precision: the cursor is a JS Date, the column keeps microseconds.
  // The cursor goes in as text: a raw Date parameter is serialised differently by each driver.
  const seen = sql`date_trunc('milliseconds', ${events.last_seen})`;
  const since = sql`${query.since.toISOString()}::timestamptz`;
  const cursor = or(sql`${seen} > ${since}`, and(sql`${seen} = ${since}`, gt(events.id, query.afterId)))!;
  return db
    .select()
    .from(events)
    .where(and(cursor, ...filterSql(query)))
    .orderBy(asc(events.last_seen), asc(events.id))
    .limit(query.limit);
}
