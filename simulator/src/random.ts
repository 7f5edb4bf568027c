/**
 * Randomness the simulator draws from (boot delays, action durations, fault rates,
 * identifiers). With a seed it is a deterministic PRNG, so a run can be replayed.
 */
import { randomUUID } from 'node:crypto';

/** A delay in simulated milliseconds: fixed, or uniformly random within a range. */
export type DelaySpec = number | { readonly minMs: number; readonly maxMs: number };

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** A delay drawn from `spec`, in whole milliseconds. */
  delay(spec: DelaySpec): number;
  /** A version-4 UUID. */
  uuid(): string;
}

/** mulberry32: small, fast and good enough for simulation. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeded when `seed` is given, otherwise Math.random and crypto UUIDs. */
export function createRandom(seed?: number): Random {
  const next = seed === undefined ? Math.random : mulberry32(seed);
  const hex = (n: number) =>
    Array.from({ length: n }, () => Math.floor(next() * 16).toString(16)).join('');
  return {
    next,
    delay(spec) {
      if (typeof spec === 'number') return spec;
      return Math.round(spec.minMs + next() * (spec.maxMs - spec.minMs));
    },
    uuid() {
      if (seed === undefined) return randomUUID();
      const variant = '89ab'[Math.floor(next() * 4)];
      return `${hex(8)}-${hex(4)}-4${hex(3)}-${variant}${hex(3)}-${hex(12)}`;
    },
  };
}
