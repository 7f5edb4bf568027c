/**
 * Reconcile events: what ops read to learn what the controller did and why. Repeats of the
 * same (object, type, reason, message) fold into one row whose count and last_seen grow.
 */
import { createHash } from 'node:crypto';
import { and, desc, eq, gt, type SQL, sql } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import { type EventType, events } from './tables.ts';

export type Event = typeof events.$inferSelect;
export interface EventInput {
  type: EventType;
  reason: string;
  message: string;
  object: { kind: string; id: string };
  reporter?: string;
  /** When it happened (default: now); tests pass their clock's time. */
  at?: Date;
}

/** Records an event, folding it into an earlier identical one. Returns the row. */
export async function recordEvent(db: DbOrTx, input: EventInput): Promise<Event> {
  const at = input.at ?? new Date();
  const fingerprint = createHash('md5')
    .update([input.object.kind, input.object.id, input.type, input.reason, input.message].join('\u0000'))
    .digest('hex');
  const [row] = await db
    .insert(events)
    .values({
      type: input.type,
      reason: input.reason,
      message: input.message,
      object_kind: input.object.kind,
      object_id: input.object.id,
      fingerprint,
      reporter: input.reporter ?? 'controller',
      first_seen: at,
      last_seen: at,
    })
    .onConflictDoUpdate({
      target: events.fingerprint,
      set: { count: sql`${events.count} + 1`, last_seen: at },
    })
    .returning();
  return row!;
}

export interface EventQuery {
  objectKind?: string;
  objectId?: string;
  /** Only events with an id above this (for following a stream). */
  afterId?: number;
  limit: number;
}

/** Newest first, filtered by object. */
export async function listEvents(db: DbOrTx, query: EventQuery): Promise<Event[]> {
  const filters: SQL[] = [];
  if (query.objectKind) filters.push(eq(events.object_kind, query.objectKind));
  if (query.objectId) filters.push(eq(events.object_id, query.objectId));
  if (query.afterId !== undefined) filters.push(gt(events.id, query.afterId));
  return db
    .select()
    .from(events)
    .where(filters.length ? and(...filters) : undefined)
    .orderBy(desc(events.last_seen), desc(events.id))
    .limit(query.limit);
}
