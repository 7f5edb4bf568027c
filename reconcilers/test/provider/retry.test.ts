import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_POLICY, backoffDelay, decideRetry } from '../../src/provider/retry.ts';

describe('backoff with full jitter', () => {
  const policy = { maxRetries: 5, baseDelayMs: 100, maxDelayMs: 1000 };

  it('draws uniformly below a ceiling that doubles per retry, up to the maximum', () => {
    const top = () => 0.999999;
    expect([0, 1, 2, 3, 4, 5].map((r) => backoffDelay(r, policy, top))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
    expect(backoffDelay(2, policy, () => 0.5)).toBe(200);
  });

  it('has sane defaults', () => {
    expect(DEFAULT_RETRY_POLICY.maxRetries).toBeGreaterThan(0);
    expect(DEFAULT_RETRY_POLICY.maxDelayMs).toBeGreaterThan(DEFAULT_RETRY_POLICY.baseDelayMs);
  });
});

describe('retry decisions', () => {
  const base = { retriesSoFar: 0, maxRetries: 3, mayHaveActed: true } as const;

  it('resends transient failures of idempotent calls', () => {
    expect(decideRetry({ ...base, kind: 'transient', safety: 'idempotent' })).toEqual({ action: 'backoff' });
  });

  it('never resends a create that may have acted', () => {
    expect(decideRetry({ ...base, kind: 'transient', safety: 'once' })).toEqual({ action: 'stop' });
  });

  it('resends a create whose request never reached DigitalOcean', () => {
    expect(decideRetry({ ...base, mayHaveActed: false, kind: 'transient', safety: 'once' })).toEqual({ action: 'backoff' });
  });

  it('waits for the budget after a 429, creates included', () => {
    expect(decideRetry({ ...base, mayHaveActed: false, kind: 'rate_limited', safety: 'once' })).toEqual({ action: 'wait_for_budget' });
  });

  it.each(['auth', 'not_found', 'validation', 'quota', 'conflict', 'unexpected'] as const)('never resends %s', (kind) => {
    expect(decideRetry({ ...base, kind, safety: 'idempotent' })).toEqual({ action: 'stop' });
  });

  it('stops after maxRetries', () => {
    expect(decideRetry({ ...base, retriesSoFar: 3, kind: 'transient', safety: 'idempotent' })).toEqual({ action: 'stop' });
    expect(decideRetry({ ...base, retriesSoFar: 3, kind: 'rate_limited', safety: 'idempotent' })).toEqual({ action: 'stop' });
  });
});
