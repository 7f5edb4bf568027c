/**
 * The fleet cache: when a sweep may speak for an environment (authoritative), who gets
 * woken by a sweep, and what counts as a change.
 */
import { createManualClock } from '@toolbelt/schema';
import { describe, expect, it } from 'vitest';
import { FleetCache } from '../src/index.ts';
import type { Droplet } from '../src/provider/types.ts';

const A = '0b6c3a52-8f5e-4c1e-9a57-2f0e8f1d3c11';
const B = '1b6c3a52-8f5e-4c1e-9a57-2f0e8f1d3c12';

function droplet(envId: string, over: Partial<Droplet> = {}): Droplet {
  return {
    id: 1,
    name: `tb-${envId}`,
    status: 'new',
    locked: false,
    tags: ['toolbelt'],
    region: 'nyc3',
    size: 's-1vcpu-1gb',
    image: 'ubuntu-24-04-x64',
    createdAt: '2026-11-24T12:00:00Z',
    publicIpv4: undefined,
    privateIpv4: undefined,
    ...over,
  };
}

function setup() {
  const clock = createManualClock();
  const cache = new FleetCache({ clock, settleMs: 1000 });
  const sweep = (droplets: Droplet[]) => cache.publish(droplets, cache.beginSweep());
  return { clock, cache, sweep };
}

describe('fleet cache', () => {
  it('knows nothing before the first sweep', () => {
    const { cache } = setup();
    expect(cache.observe(A)).toBeUndefined();
    expect(cache.inTransition()).toBe(true);
  });

  it('distrusts sweeps that started before a mutation settled', () => {
    const { clock, cache, sweep } = setup();
    sweep([]);
    expect(cache.observe(A)).toMatchObject({ droplets: [], authoritative: true });
    cache.noteMutation(A);
    expect(cache.observe(A)!.authoritative).toBe(false);
    expect(cache.observe(B)!.authoritative).toBe(true);
    clock.advance(500);
    sweep([]);
    expect(cache.observe(A)!.authoritative).toBe(false);
    clock.advance(500);
    sweep([droplet(A)]);
    expect(cache.observe(A)).toMatchObject({ authoritative: true, droplets: [{ name: `tb-${A}` }] });
  });

  it('keeps the longest distrust when mutations overlap (a lost answer outlasts a quick one)', () => {
    const { clock, cache, sweep } = setup();
    sweep([]);
    cache.noteMutation(A, { settleMs: 10_000 });
    cache.noteMutation(A);
    clock.advance(2_000);
    sweep([]);
    expect(cache.observe(A)!.authoritative).toBe(false);
    clock.advance(8_000);
    sweep([]);
    expect(cache.observe(A)!.authoritative).toBe(true);
  });

  it('wakes those who asked before the sweep started, not those who asked during it', () => {
    const { clock, cache } = setup();
    const asked: number[] = [];
    cache.onRequest(() => asked.push(clock.now()));
    cache.requestSweep({ kind: 'environment', key: 'early' });
    cache.requestSweep({ kind: 'environment', key: 'early-too' });
    expect(asked).toHaveLength(1);
    clock.advance(10);
    const startedAt = cache.beginSweep();
    expect(cache.sweepRequestedAt).toBeUndefined();
    clock.advance(10);
    cache.requestSweep({ kind: 'environment', key: 'late' });
    expect(cache.sweepRequestedAt).toBe(startedAt + 10);
    const result = cache.publish([], startedAt);
    expect(result.woken.map((w) => w.key).sort()).toEqual(['early', 'early-too']);
    const next = cache.publish([], cache.beginSweep());
    expect(next.woken.map((w) => w.key)).toEqual(['late']);
  });

  it('reports bound environments whose droplets changed, and unbound ones apart', () => {
    const { clock, cache, sweep } = setup();
    cache.bind(A, { kind: 'environment', key: 'agent-a' });
    sweep([droplet(A), droplet(B, { id: 2 })]);
    clock.advance(1);
    const same = sweep([droplet(A), droplet(B, { id: 2 })]);
    expect(same.changed).toEqual([]);
    expect(same.unbound).toEqual([]);
    clock.advance(1);
    const changed = sweep([droplet(A, { status: 'active' }), droplet(B, { id: 2, locked: true })]);
    expect(changed.changed).toEqual([{ kind: 'environment', key: 'agent-a' }]);
    expect(changed.unbound).toEqual([B]);
    clock.advance(1);
    expect(sweep([droplet(B, { id: 2, locked: true })]).changed).toEqual([{ kind: 'environment', key: 'agent-a' }]);
  });

  it('is in transition while a droplet boots or is locked, or a mutation is unseen', () => {
    const { clock, cache, sweep } = setup();
    sweep([droplet(A)]);
    expect(cache.inTransition()).toBe(true);
    clock.advance(1);
    sweep([droplet(A, { status: 'active' })]);
    expect(cache.inTransition()).toBe(false);
    cache.noteMutation(A);
    expect(cache.inTransition()).toBe(true);
  });

  it('ignores a sweep older than the one it holds, and forgets everything on reset', () => {
    const { clock, cache } = setup();
    const older = cache.beginSweep();
    clock.advance(100);
    cache.publish([droplet(A)], cache.beginSweep());
    cache.publish([], older);
    expect(cache.observe(A)!.droplets).toHaveLength(1);
    cache.reset();
    expect(cache.latest()).toBeUndefined();
  });
});
