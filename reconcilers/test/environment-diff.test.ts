/**
 * The environment diff, rule by rule, without a database or a cloud: (desired, observed) →
 * plan. Each case states what an operator would expect the controller to do.
 */
import { describe, expect, it } from 'vitest';
import type { CreateOutcome } from '../src/index.ts';
import { DEFAULT_LIFECYCLE_TIMINGS, diffEnvironment } from '../src/index.ts';
import { ProviderError } from '../src/provider/errors.ts';
import { MIN, NOW, type Overrides, condition, cond, droplet, input, reasons, types } from './environment-inputs.ts';

describe('environment diff: creating', () => {
  it('waits for the first sweep before creating anything', () => {
    const plan = diffEnvironment(input({ observed: 'none' }));
    expect(types(plan)).toEqual([]);
    expect(plan.waitForSweep).toBe(true);
  });

  it('does not trust a sweep older than its own last change', () => {
    const plan = diffEnvironment(input({ observed: { authoritative: false } }));
    expect(types(plan)).toEqual([]);
    expect(plan.waitForSweep).toBe(true);
  });

  it('records the intent first, then creates, when an authoritative sweep shows no droplet', () => {
    const plan = diffEnvironment(input());
    expect(types(plan)).toEqual(['create']);
    expect(plan.intentFirst).toBe(true);
    expect(plan.status).toMatchObject({ status: 'creating', createRequestedAt: NOW, dropletId: null, observedGeneration: 1 });
    expect(cond(plan, 'Provisioned')).toMatchObject({ status: 'False', reason: 'Creating' });
    expect(reasons(plan)).toEqual(['Creating']);
  });

  it('waits while its create is queued or on the wire (the batcher wakes it)', () => {
    for (const create of [{ phase: 'queued', since: NOW }, { phase: 'sending', since: NOW }] as CreateOutcome[]) {
      const plan = diffEnvironment(input({ create, row: { status: 'creating', createRequestedAt: NOW } }));
      expect(types(plan)).toEqual([]);
      expect(plan.status.status).toBe('creating');
      expect(plan.waitForSweep).toBe(false);
    }
  });

  it("takes the create's answer as its droplet before any sweep lists it", () => {
    const created = droplet({ status: 'new', publicIpv4: undefined });
    const plan = diffEnvironment(
      input({
        create: { phase: 'created', droplet: created, at: NOW, batchSize: 10 },
        row: { status: 'creating', createRequestedAt: NOW - 1000 },
        observed: { authoritative: false },
      }),
    );
    expect(plan.status).toMatchObject({ status: 'provisioning', dropletId: 101, createRequestedAt: null });
    expect(reasons(plan)).toEqual(['DropletCreated']);
    expect(plan.events[0]!.message).toContain('batch of 10');
    expect(types(plan)).toEqual(['forgetCreate']);
  });

  it('adopts a droplet that carries its name (the controller died before writing the id)', () => {
    const plan = diffEnvironment(input({ row: { status: 'creating', createRequestedAt: NOW - MIN }, observed: { droplets: [droplet()] } }));
    expect(types(plan)).toEqual([]);
    expect(plan.status).toMatchObject({ status: 'active', dropletId: 101, ipAddress: '203.0.113.7', createRequestedAt: null });
    expect(reasons(plan)).toEqual(['Adopted', 'Ready']);
  });

  it('re-creates after a restart only when an authoritative sweep lacks the name', () => {
    const plan = diffEnvironment(input({ row: { status: 'creating', createRequestedAt: NOW - MIN } }));
    expect(types(plan)).toEqual(['create']);
    expect(reasons(plan)).toEqual(['CreateRetried', 'Creating']);
  });

  it('never re-creates after a lost answer until a sweep taken after it says the name is absent', () => {
    const unknown: CreateOutcome = { phase: 'unknown', error: new Error('socket hang up'), at: NOW - 1000 };
    const waiting = diffEnvironment(input({ create: unknown, row: { status: 'creating' }, observed: { authoritative: false } }));
    expect(types(waiting)).toEqual([]);
    expect(waiting.waitForSweep).toBe(true);
    const found = diffEnvironment(input({ create: unknown, row: { status: 'creating' }, observed: { droplets: [droplet({ status: 'new' })] } }));
    expect(types(found)).toEqual(['forgetCreate']);
    expect(found.status.dropletId).toBe(101);
    expect(reasons(found)).toEqual(['Adopted']);
    const absent = diffEnvironment(input({ create: unknown, row: { status: 'creating' } }));
    // The outcome is forgotten after the new create is queued; forgetting never drops a queued one.
    expect(types(absent).sort()).toEqual(['create', 'forgetCreate']);
    expect(reasons(absent)).toEqual(['CreateRetried', 'Creating']);
  });

  it('keeps one droplet and deletes duplicates, whichever way they came', () => {
    const mine = droplet({ id: 7 });
    const other = droplet({ id: 9, createdAt: new Date(NOW - MIN).toISOString() });
    const plan = diffEnvironment(input({ row: { status: 'active', dropletId: 9 }, observed: { droplets: [mine, other] } }));
    expect(plan.actions).toEqual([{ type: 'deleteDroplet', droplet: mine, why: 'duplicate' }]);
    expect(plan.status.dropletId).toBe(9);
    expect(reasons(plan)).toContain('DuplicateDeleted');
  });
});

describe('environment diff: quota and bad specs', () => {
  const quota = new ProviderError({ kind: 'quota', endpoint: 'POST /v2/droplets', facts: { status: 422, message: 'droplet limit exceeded' }, attempts: 1 });
  const invalid = new ProviderError({ kind: 'validation', endpoint: 'POST /v2/droplets', facts: { status: 422, message: 'invalid size' }, attempts: 1 });

  it('turns a quota refusal into a condition, one event and a long wait — no retry storm', () => {
    const plan = diffEnvironment(input({ create: { phase: 'failed', kind: 'quota', error: quota, at: NOW }, row: { status: 'creating' } }));
    expect(plan.status.status).toBe('error');
    expect(cond(plan, 'Provisioned')).toMatchObject({ status: 'False', reason: 'QuotaExceeded' });
    expect(plan.events).toHaveLength(1);
    expect(plan.events[0]).toMatchObject({ type: 'Warning', reason: 'QuotaExceeded' });
    expect(plan.requeueAfterMs).toBe(DEFAULT_LIFECYCLE_TIMINGS.quotaRetryMs);
    const errored = { status: 'error' as const, conditions: plan.status.conditions };
    const soon = diffEnvironment(input({ now: NOW + MIN, row: errored }));
    expect(types(soon)).toEqual([]);
    expect(soon.requeueAfterMs).toBe(DEFAULT_LIFECYCLE_TIMINGS.quotaRetryMs - MIN);
    const later = diffEnvironment(input({ now: NOW + DEFAULT_LIFECYCLE_TIMINGS.quotaRetryMs, row: errored }));
    expect(types(later)).toEqual(['create']);
  });

  it('holds an invalid spec until the spec changes', () => {
    const plan = diffEnvironment(input({ create: { phase: 'failed', kind: 'invalid', error: invalid, at: NOW }, row: { status: 'creating' } }));
    expect(cond(plan, 'Provisioned')).toMatchObject({ reason: 'InvalidSpec', observedGeneration: 1 });
    expect(plan.requeueAfterMs).toBeUndefined();
    const row = { status: 'error' as const, conditions: plan.status.conditions };
    expect(types(diffEnvironment(input({ row, now: NOW + 60 * MIN })))).toEqual([]);
    expect(types(diffEnvironment(input({ row, generation: 2 })))).toEqual(['create']);
  });

  it('retries other create failures after a fresh sweep', () => {
    const plan = diffEnvironment(input({ create: { phase: 'failed', kind: 'retry', error: new Error('429'), at: NOW }, row: { status: 'creating' } }));
    expect(types(plan)).toEqual(['forgetCreate']);
    expect(plan.waitForSweep).toBe(true);
    expect(reasons(plan)).toEqual(['CreateFailed']);
  });
});

describe('environment diff: drift', () => {
  const active = { status: 'active' as const, dropletId: 101, ipAddress: '203.0.113.7', privateIpAddress: '10.10.0.7', observedGeneration: 1 };

  it('recreates a droplet deleted by hand, and says so', () => {
    const plan = diffEnvironment(input({ row: active }));
    expect(types(plan)).toEqual(['create']);
    expect(reasons(plan)).toEqual(['DropletVanished', 'Creating']);
    expect(plan.events[0]!.type).toBe('Warning');
  });

  it('does not call a droplet gone on a sweep older than its last change', () => {
    expect(types(diffEnvironment(input({ row: active, observed: { authoritative: false } })))).toEqual([]);
  });

  it('powers on a droplet that is off, once', () => {
    const off = droplet({ status: 'off' });
    const plan = diffEnvironment(input({ row: active, observed: { droplets: [off] } }));
    expect(types(plan)).toEqual(['powerOn']);
    expect(reasons(plan)).toEqual(['PoweringOn']);
    expect(types(diffEnvironment(input({ row: active, observed: { droplets: [{ ...off, locked: true }] } })))).toEqual([]);
    expect(types(diffEnvironment(input({ row: active, observed: { droplets: [off], authoritative: false } })))).toEqual([]);
  });

  it('replaces a droplet whose region or size no longer matches the spec', () => {
    const plan = diffEnvironment(input({ row: active, observed: { droplets: [droplet()] }, placement: { region: 'ams3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64' } }));
    expect(types(plan)).toEqual(['deleteDroplet']);
    expect(plan.status.status).toBe('deleting');
    expect(reasons(plan)).toEqual(['Replacing']);
  });

  it('replaces a droplet stuck booting past the boot timeout', () => {
    const stuck = droplet({ status: 'new', createdAt: new Date(NOW - DEFAULT_LIFECYCLE_TIMINGS.bootTimeoutMs - 1).toISOString() });
    expect(types(diffEnvironment(input({ row: active, observed: { droplets: [stuck] } })))).toEqual(['deleteDroplet']);
    const booting = droplet({ status: 'new', createdAt: new Date(NOW - MIN).toISOString() });
    const plan = diffEnvironment(input({ row: active, observed: { droplets: [booting] } }));
    expect(types(plan)).toEqual([]);
    expect(cond(plan, 'Provisioned')).toMatchObject({ reason: 'Booting' });
  });

  it('creates the replacement once DigitalOcean confirms the old droplet gone', () => {
    const replacing = { ...active, status: 'deleting' as const };
    const waiting = diffEnvironment(input({ row: replacing, observed: { droplets: [droplet()], authoritative: false } }));
    expect(types(waiting)).toEqual([]);
    const again = diffEnvironment(input({ row: replacing, observed: { droplets: [droplet()] } }));
    expect(types(again)).toEqual(['deleteDroplet']);
    const gone = diffEnvironment(input({ row: replacing }));
    expect(types(gone)).toEqual(['create']);
    expect(reasons(gone)).toEqual(['DropletGone', 'Creating']);
  });

  it('says Ready once, not on every reconcile', () => {
    const first = diffEnvironment(input({ row: active, observed: { droplets: [droplet()] } }));
    expect(reasons(first)).toEqual(['Ready']);
    expect(cond(first, 'Ready')).toMatchObject({ status: 'True' });
    const again = diffEnvironment(input({ row: { ...active, conditions: first.status.conditions }, observed: { droplets: [droplet()] } }));
    expect(reasons(again)).toEqual([]);
    expect(again.status.conditions).toEqual(first.status.conditions);
  });
});

describe('environment diff: the agent', () => {
  const timings = { ...DEFAULT_LIFECYCLE_TIMINGS, agentRequired: true };
  const activeSince = NOW - 2 * MIN;
  const row = {
    status: 'provisioning' as const,
    dropletId: 101,
    ipAddress: '203.0.113.7',
    privateIpAddress: '10.10.0.7',
    conditions: [condition('Provisioned', 'True', 'DropletActive', activeSince)],
  };
  const at = (now: number, over: Overrides = {}) => input({ now, timings, row, observed: { droplets: [droplet()] }, ...over });

  it('is Ready only when the agent is connected', () => {
    const waiting = diffEnvironment(at(NOW));
    expect(cond(waiting, 'AgentConnected')).toMatchObject({ status: 'False', reason: 'WaitingForAgent' });
    expect(cond(waiting, 'Ready')).toMatchObject({ status: 'False' });
    expect(waiting.requeueAfterMs).toBe(activeSince + timings.helloGraceMs - NOW);
    const connected = diffEnvironment(at(NOW, { agent: { connected: true, lastSeenAt: NOW - 1000 } }));
    expect(cond(connected, 'Ready')).toMatchObject({ status: 'True', reason: 'AgentConnected' });
    expect(connected.status.status).toBe('active');
  });

  it('power-cycles once past the grace, then replaces after the longer grace', () => {
    const late = activeSince + timings.helloGraceMs + 1000;
    const cycle = diffEnvironment(at(late));
    expect(types(cycle)).toEqual(['powerCycle']);
    expect(cycle.status.status).toBe('unreachable');
    expect(reasons(cycle)).toEqual(['PowerCycled']);
    const cycled = { ...row, conditions: cycle.status.conditions };
    expect(types(diffEnvironment(at(late + MIN, { row: cycled })))).toEqual([]);
    const replace = diffEnvironment(at(late + timings.replaceAfterMs, { row: cycled }));
    expect(types(replace)).toEqual(['deleteDroplet']);
    expect(replace.status.status).toBe('deleting');
    expect(reasons(replace)).toEqual(['Replacing']);
  });

  it('judges a silent agent by its last heartbeat, with the shorter grace', () => {
    const seen = NOW - timings.silenceGraceMs - 1;
    const plan = diffEnvironment(at(NOW, { agent: { connected: false, lastSeenAt: seen } }));
    expect(types(plan)).toEqual(['powerCycle']);
    expect(plan.events[0]!.message).toContain('silent');
  });
});

describe('environment diff: teardown', () => {
  const active = { status: 'active' as const, dropletId: 101, ipAddress: '203.0.113.7', observedGeneration: 1 };
  const disabled = { present: false, why: 'disabled' } as const;

  it('stops tools, deletes the droplet and revokes its credentials, keeping the row', () => {
    const plan = diffEnvironment(input({ want: disabled, row: active, observed: { droplets: [droplet()] } }));
    expect(types(plan)).toEqual(['stopTools', 'deleteDroplet', 'revokeCredentials']);
    expect(plan.intentFirst).toBe(true);
    expect(plan.status.status).toBe('deleting');
    expect(reasons(plan)).toEqual(['Deleting']);
  });

  it('waits for a sweep to confirm, deleting again only if an authoritative one still lists it', () => {
    const deleting = { ...active, status: 'deleting' as const };
    expect(types(diffEnvironment(input({ want: disabled, row: deleting, observed: { droplets: [droplet()], authoritative: false } })))).toEqual([]);
    expect(types(diffEnvironment(input({ want: disabled, row: deleting, observed: { droplets: [droplet()] } })))).toEqual(['deleteDroplet']);
    const gone = diffEnvironment(input({ want: disabled, row: deleting }));
    expect(types(gone)).toEqual(['revokeCredentials']);
    expect(gone.status).toMatchObject({ status: 'deleted', dropletId: null, ipAddress: null });
    expect(reasons(gone)).toEqual(['DropletDeleted']);
  });

  it("removes a deleted agent's rows once its droplet is confirmed gone", () => {
    const plan = diffEnvironment(input({ want: { present: false, why: 'agent-deleted' }, row: { ...active, status: 'deleting' } }));
    expect(types(plan)).toEqual(['revokeCredentials', 'removeAgent']);
  });

  it('needs no sweep for an environment that never had a create', () => {
    const plan = diffEnvironment(input({ want: disabled, observed: 'none' }));
    expect(types(plan)).toEqual([]);
    expect(plan.waitForSweep).toBe(false);
    expect(cond(plan, 'Ready')).toMatchObject({ status: 'False', reason: 'Disabled' });
  });

  it('takes back a queued create, and waits for one on the wire', () => {
    const queued = diffEnvironment(input({ want: disabled, create: { phase: 'queued', since: NOW }, row: { status: 'creating', createRequestedAt: NOW } }));
    // Never sent, and the sweep is authoritative: nothing is left.
    expect(types(queued)).toEqual(['cancelCreate', 'revokeCredentials']);
    expect(queued.status.status).toBe('deleted');
    const sending = diffEnvironment(input({ want: disabled, create: { phase: 'sending', since: NOW }, row: { status: 'creating', createRequestedAt: NOW } }));
    expect(types(sending)).toEqual([]);
    const answered = diffEnvironment(
      input({ want: disabled, create: { phase: 'created', droplet: droplet({ status: 'new' }), at: NOW, batchSize: 3 }, observed: { authoritative: false }, row: { status: 'creating' } }),
    );
    expect(types(answered)).toEqual(['forgetCreate', 'stopTools', 'deleteDroplet', 'revokeCredentials']);
  });
});
