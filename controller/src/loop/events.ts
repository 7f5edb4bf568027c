/**
 * The event recorder reconciles get: `Normal`/`Warning` events about an object, folded by
 * `recordEvent` (same object, type, reason and message → one row, count and last_seen grow).
 * Times come from the injected clock. Events are not fenced: they say what a replica did,
 * which stays true after it lost its lease.
 */
import type { EventRecorder, ObjectRef } from '@toolbelt/reconcilers';
import { type Clock, type Db, type EventType, recordEvent, systemClock } from '@toolbelt/schema';

export interface EventRecorderOptions {
  db: Db;
  clock?: Clock;
  /** Who reports (default `controller`). */
  reporter?: string;
}

/** A recorder whose events default to `object`. */
export function createEventRecorder(options: EventRecorderOptions, object: ObjectRef): EventRecorder {
  const clock = options.clock ?? systemClock;
  const record = async (type: EventType, reason: string, message: string, about: ObjectRef = object) => {
    await recordEvent(options.db, {
      type,
      reason,
      message,
      object: about,
      reporter: options.reporter ?? 'controller',
      at: new Date(clock.now()),
    });
  };
  return {
    normal: (reason, message, about) => record('Normal', reason, message, about),
    warning: (reason, message, about) => record('Warning', reason, message, about),
  };
}
