/**
 * Injected faults: rules that pick requests by method, path, rate and count and make them
 * fail the ways a real cloud API fails. Rules can be given at start and changed at run time.
 * State faults (a droplet that vanishes, one that never leaves `new`, the droplet limit)
 * live on the state API instead, because they are about resources, not requests.
 */
import type { Random } from './random.ts';

/** What happens to a request a rule picked. */
export type Fault =
  /** Answer a server error (default 500) with DigitalOcean's error body. */
  | { readonly kind: 'error'; readonly status?: 500 | 502 | 503 | 504 }
  /** Answer 429 too_many_requests with `retry-after` (a "429 storm" when rate is high). */
  | { readonly kind: 'rateLimit'; readonly retryAfterSeconds?: number }
  /** Wait `ms` of simulated time, then handle the request normally. */
  | { readonly kind: 'delay'; readonly ms: number }
  /** Never answer; the connection stays open until the client gives up or the simulator closes. */
  | { readonly kind: 'timeout' }
  /** Destroy the connection without handling the request. */
  | { readonly kind: 'drop' }
  /**
   * Handle the request fully (a create creates its droplets), then destroy the connection
   * instead of answering: the client cannot know whether it worked.
   */
  | { readonly kind: 'loseAnswer' };

export type FaultKind = Fault['kind'];

export interface FaultRule {
  /** HTTP method to match (any case); any method when omitted. */
  readonly method?: string;
  /**
   * Which requests: a string matches as a prefix of the request path with its query
   * (`/v2/droplets` matches `/v2/droplets/7` and `/v2/droplets?tag_name=x`); a RegExp is
   * tested against the same text. Every path when omitted.
   */
  readonly path?: string | RegExp;
  /** Probability (0..1) that a matching request is hit; default 1. */
  readonly rate?: number;
  /** Hit at most this many requests, then retire the rule; unlimited when omitted. */
  readonly count?: number;
  readonly fault: Fault;
}

/** Run-time control of fault rules. */
export interface FaultControl {
  /** Adds a rule (checked after the existing ones) and returns its id. */
  add(rule: FaultRule): string;
  /** Removes a rule; false when there was no such rule. */
  remove(id: string): boolean;
  /** Removes every rule. */
  clear(): void;
  /** The active rules with their ids and how many requests each may still hit. */
  list(): readonly { id: string; rule: FaultRule; remaining: number | undefined }[];
}

const FAULT_KINDS: readonly FaultKind[] = ['error', 'rateLimit', 'delay', 'timeout', 'drop', 'loseAnswer'];

/** Throws a RangeError that says what is wrong with `rule`. */
export function checkFaultRule(rule: FaultRule): void {
  if (!rule || typeof rule !== 'object') throw new RangeError('a fault rule must be an object');
  checkFault(rule.fault);
  if (rule.rate !== undefined && !(rule.rate >= 0 && rule.rate <= 1)) {
    throw new RangeError(`fault rate must be within 0..1, got ${rule.rate}`);
  }
  if (rule.count !== undefined && !(Number.isInteger(rule.count) && rule.count >= 0)) {
    throw new RangeError(`fault count must be a whole number ≥ 0, got ${rule.count}`);
  }
  if (rule.path !== undefined && typeof rule.path !== 'string' && !(rule.path instanceof RegExp)) {
    throw new RangeError('fault path must be a string prefix or a RegExp');
  }
}

function checkFault(fault: Fault | undefined): void {
  if (!fault || !FAULT_KINDS.includes(fault.kind)) {
    throw new RangeError(`fault.kind must be one of ${FAULT_KINDS.join(', ')}`);
  }
  if (fault.kind === 'delay' && !(fault.ms >= 0)) throw new RangeError(`a delay fault needs ms ≥ 0, got ${fault.ms}`);
  if (fault.kind === 'error' && fault.status !== undefined && ![500, 502, 503, 504].includes(fault.status)) {
    throw new RangeError(`an error fault's status must be 500, 502, 503 or 504, got ${fault.status}`);
  }
}

interface ActiveRule {
  readonly id: string;
  readonly rule: FaultRule;
  remaining: number | undefined;
}

export class FaultRegistry implements FaultControl {
  #rules: ActiveRule[] = [];
  #nextId = 1;
  readonly #random: Random;

  constructor(random: Random, initial: readonly FaultRule[] = []) {
    this.#random = random;
    for (const rule of initial) this.add(rule);
  }

  add(rule: FaultRule): string {
    checkFaultRule(rule);
    const id = `fault-${this.#nextId++}`;
    this.#rules.push({ id, rule, remaining: rule.count });
    return id;
  }

  remove(id: string): boolean {
    const before = this.#rules.length;
    this.#rules = this.#rules.filter((r) => r.id !== id);
    return this.#rules.length !== before;
  }

  clear(): void {
    this.#rules = [];
  }

  list(): readonly { id: string; rule: FaultRule; remaining: number | undefined }[] {
    return this.#rules.map((r) => ({ ...r }));
  }

  /** The fault for this request, if a rule picks it (a hit uses up one of its count). */
  pick(method: string, pathWithQuery: string): Fault | undefined {
    for (const active of this.#rules) {
      if (!matches(active.rule, method, pathWithQuery)) continue;
      if (active.remaining !== undefined && active.remaining <= 0) continue;
      if (this.#random.next() >= (active.rule.rate ?? 1)) continue;
      if (active.remaining !== undefined) {
        active.remaining -= 1;
        if (active.remaining === 0) this.remove(active.id);
      }
      return active.rule.fault;
    }
    return undefined;
  }
}

function matches(rule: FaultRule, method: string, path: string): boolean {
  if (rule.method && rule.method.toUpperCase() !== method.toUpperCase()) return false;
  if (rule.path === undefined) return true;
  if (typeof rule.path === 'string') return path.startsWith(rule.path);
  rule.path.lastIndex = 0;
  return rule.path.test(path);
}
