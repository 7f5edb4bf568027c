/**
 * Which droplets are an environment's, and which one it keeps. Pure; part of the diff.
 */
import type { Droplet } from '../provider/types.ts';
import type { DiffInput } from './plan.ts';

/** Droplets that are the environment's: named `tb-<envId>`, plus one a create just answered with. */
export function candidateDroplets(input: DiffInput): Droplet[] {
  const seen = [...(input.observed?.droplets ?? [])];
  const { create } = input;
  const answered = create?.phase === 'created' || create?.phase === 'exists' ? create.droplet : undefined;
  // An authoritative sweep that lacks the answered droplet says it is gone already.
  if (answered && !seen.some((d) => d.id === answered.id) && !input.observed?.authoritative) seen.push(answered);
  return seen;
}

/** The droplet to keep (the row's, else the one just created, else the oldest) and the rest. */
export function pickDroplet(input: DiffInput): { keep: Droplet | undefined; duplicates: Droplet[] } {
  const candidates = candidateDroplets(input);
  const { create } = input;
  const created = create?.phase === 'created' ? create.droplet.id : undefined;
  const keep =
    candidates.find((d) => d.id === input.row.dropletId) ?? candidates.find((d) => d.id === created) ?? candidates[0];
  return { keep, duplicates: candidates.filter((d) => d !== keep) };
}
