/**
 * Expected outcomes of queries are returned as discriminated unions, not thrown
 * (STYLE.md lesson 6).
 */
import { SQLSTATE, sqlState } from './errors.ts';

export type Found<T> = { kind: 'ok'; value: T };
export type NotFound = { kind: 'not_found' };
/** A write that lost: a unique key taken, or a stale generation. */
export type Conflict = { kind: 'conflict'; reason: string };
/** A row other rows still point at. */
export type InUse = { kind: 'in_use'; reason: string };

export const ok = <T>(value: T): Found<T> => ({ kind: 'ok', value });
export const notFound: NotFound = { kind: 'not_found' };
export const conflict = (reason: string): Conflict => ({ kind: 'conflict', reason });

/** Runs a write and turns a unique violation into a conflict; other errors propagate. */
export async function uniqueOrConflict<T>(write: () => Promise<T>, reason: string): Promise<Found<T> | Conflict> {
  try {
    return ok(await write());
  } catch (error) {
    if (sqlState(error) === SQLSTATE.uniqueViolation) return conflict(reason);
    throw error;
  }
}
