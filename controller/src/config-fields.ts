/**
 * The zod field helpers every settings table uses (config.ts, lifecycle-config.ts): an unset
 * or empty variable is absent and takes the default; anything else must parse.
 */
import { z } from 'zod';

/** An empty string is as good as unset. */
export function blankToUndefined(value: unknown): unknown {
  return value === '' ? undefined : value;
}

/** A whole number of milliseconds ≥ `min`. */
export const milliseconds = (min: number, fallback: number) =>
  z.preprocess(blankToUndefined, z.coerce.number().int().min(min).default(fallback));

/** A whole number in [`min`, `max`]. */
export const count = (min: number, max: number, fallback: number) =>
  z.preprocess(blankToUndefined, z.coerce.number().int().min(min).max(max).default(fallback));

const SWITCH_WORDS = ['true', 'false', '1', '0', 'yes', 'no'] as const;
const YES: readonly string[] = ['true', '1', 'yes'];

/** A switch: true/false, 1/0 or yes/no. */
export const flag = (fallback: boolean) =>
  z.preprocess(blankToUndefined, z.enum(SWITCH_WORDS).default(fallback ? 'true' : 'false')).transform((v) => YES.includes(v));

/** A switch whose default depends on other settings: undefined when unset. */
export const maybeFlag = z
  .preprocess(blankToUndefined, z.enum(SWITCH_WORDS).optional())
  .transform((v) => (v === undefined ? undefined : YES.includes(v)));
