/**
 * One source for every event stream of this replica: a single poller reads the events
 * changed since its cursor (every `pollMs`, only while someone listens) and fans them out to
 * the open streams, which filter in memory. 100 streams cost one query a tick, not 100.
 * It also admits streams: at most `perToken` per API token and `max` in all; beyond that a
 * 429 with Retry-After.
 */
import { type Clock, type Db, type Event, listEventsChangedSince } from '@toolbelt/schema';
import type { Logger } from '../logger.ts';
import { ApiError } from './errors.ts';

/** Where a follower is: an event's last_seen (ms) and id; later events sort after it. */
export interface EventCursor {
  since: Date;
  afterId: number;
}
export type EventListener = (rows: Event[]) => void;

export interface EventFeedOptions {
  db: Db;
  clock: Clock;
  logger: Logger;
  pollMs: number;
  /** Ends the poller when the API stops. */
  signal: AbortSignal;
  /** Open streams allowed in all (default 100) and per API token (default 10). */
  max?: number;
  perToken?: number;
}

const PAGE = 500;
/** How long a refused client is told to wait before it tries again. */
const RETRY_AFTER_S = 10;

/** Whether `row` sorts after `cursor` (the order the feed and the catch-up read in). */
export function isAfter(row: Event, cursor: EventCursor): boolean {
  const seen = row.last_seen.getTime();
  const at = cursor.since.getTime();
  return seen > at || (seen === at && row.id > cursor.afterId);
}

export class EventFeed {
  readonly #o: Required<EventFeedOptions>;
  readonly #listeners = new Set<EventListener>();
  readonly #perToken = new Map<string, number>();
  #open = 0;
  #polling = false;

  constructor(options: EventFeedOptions) {
    this.#o = { max: 100, perToken: 10, ...options };
  }

  /** Streams open now, in all. */
  get open(): number {
    return this.#open;
  }

  /** Admits one more stream of `tokenId`, or throws 429; call the returned release once it ends. */
  admit(tokenId: string): () => void {
    const mine = this.#perToken.get(tokenId) ?? 0;
    if (mine >= this.#o.perToken) throw tooMany(`this token already has ${mine} event streams open (at most ${this.#o.perToken})`);
    if (this.#open >= this.#o.max) throw tooMany(`this replica serves ${this.#open} event streams, as many as it may`);
    this.#perToken.set(tokenId, mine + 1);
    this.#open += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#open -= 1;
      const left = (this.#perToken.get(tokenId) ?? 1) - 1;
      if (left > 0) this.#perToken.set(tokenId, left);
      else this.#perToken.delete(tokenId);
    };
  }

  /** Hands every event changed from now on to `listener`; returns the unsubscribe. */
  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener);
    if (!this.#polling) void this.#poll();
    return () => this.#listeners.delete(listener);
  }

  async #poll(): Promise<void> {
    this.#polling = true;
    const cursor: EventCursor = { since: new Date(this.#o.clock.now()), afterId: 0 };
    try {
      while (this.#listeners.size > 0 && !this.#o.signal.aborted) {
        const rows = await this.#read(cursor);
        if (rows.length > 0) {
          const last = rows.at(-1)!;
          cursor.since = new Date(last.last_seen.getTime());
          cursor.afterId = last.id;
          for (const listener of [...this.#listeners]) listener(rows);
        }
        if (rows.length < PAGE) await this.#o.clock.sleep(this.#o.pollMs, this.#o.signal).catch(() => {});
      }
    } finally {
      this.#polling = false;
    }
  }

  async #read(cursor: EventCursor): Promise<Event[]> {
    try {
      return await listEventsChangedSince(this.#o.db, { since: cursor.since, afterId: cursor.afterId, limit: PAGE });
    } catch (error) {
      this.#o.logger.warn({ err: error }, 'reading events for the event streams failed; trying again');
      return [];
    }
  }
}

function tooMany(message: string): ApiError {
  return new ApiError(429, 'TOO_MANY_STREAMS', message, {
    hint: 'close event streams you no longer read, or follow several objects in one stream (object= is repeatable)',
    headers: { 'retry-after': String(RETRY_AFTER_S) },
  });
}
