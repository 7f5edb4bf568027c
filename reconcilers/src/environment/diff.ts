/**
 * The environment diff: (desired, observed) → plan. Pure — no database, no clock, no cloud —
 * so every rule of the droplet lifecycle is tested as a table of inputs (STYLE.md lesson 2).
 *
 * Enabled:  no droplet → create (only when an authoritative sweep says its name is absent);
 *           one found by name → adopt; more than one → keep one, delete the rest;
 *           `new` → wait (replace past bootTimeout); `off` → power on; active → agent checks
 *           (diff-agent.ts); region/size differ from the spec → replace; droplets whose agent
 *           never says hello → replaced a few times, then BootFailed (diff-boot.ts).
 * Disabled or agent deleted → diff-teardown.ts.
 */
import type { Droplet } from '../provider/types.ts';
import { getCondition, transitionTime } from './conditions.ts';
import { planAgent } from './diff-agent.ts';
import { heldByBootFailure, waitingToRetryBoot } from './diff-boot.ts';
import { planTeardown } from './diff-teardown.ts';
import { pickDroplet } from './pick.ts';
import { type DiffInput, type Plan, PlanBuilder, describeDroplet, replace } from './plan.ts';

/** The plan for one environment. */
export function diffEnvironment(input: DiffInput): Plan {
  const builder = new PlanBuilder(input);
  if (!input.want.present) planTeardown(input, builder);
  else planPresent(input, builder);
  return builder.plan;
}

function planPresent(input: DiffInput, b: PlanBuilder): void {
  const { create } = input;
  // The batcher wakes this key when the create settles.
  if (create?.phase === 'queued' || create?.phase === 'sending') {
    b.status({ status: 'creating' });
    return;
  }
  if (create?.phase === 'failed') return planCreateFailed(input, b);
  if (heldByBootFailure(input, b)) return;
  if (blockedByEarlierFailure(input, b)) return;
  if (input.row.status === 'deleting' && input.row.dropletId !== null) return planReplacement(input, b);
  const { keep, duplicates } = pickDroplet(input);
  if (!keep) return planAbsent(input, b);
  planExisting(input, b, keep, duplicates);
}

function planCreateFailed(input: DiffInput, b: PlanBuilder): void {
  const create = input.create;
  if (create?.phase !== 'failed') return;
  b.act({ type: 'forgetCreate' });
  if (create.kind === 'retry') {
    // Nothing was created (DigitalOcean refused or was unreachable): the intent stays and the
    // next reconcile tries again once a sweep confirms the name is absent.
    b.event('Warning', 'CreateFailed', `creating droplet tb-${input.envId} failed: ${create.error.message}; trying again`);
    b.waitForSweep();
    return;
  }
  const reason = create.kind === 'quota' ? 'QuotaExceeded' : 'InvalidSpec';
  const what = create.kind === 'quota' ? 'the DigitalOcean account is at its droplet limit' : 'DigitalOcean refused the spec';
  const message = `${what}: ${create.error.message}`;
  b.status({ status: 'error', createRequestedAt: null })
    .condition({ type: 'Provisioned', status: 'False', reason, message })
    .notReady(reason, message)
    .observed()
    .event('Warning', reason, message);
  if (create.kind === 'quota') b.requeue(input.timings.quotaRetryMs);
}

/**
 * A quota or spec refusal recorded earlier holds back a new create: a quota one until
 * quotaRetry has passed, a spec one until the spec changes (a new generation).
 */
function blockedByEarlierFailure(input: DiffInput, b: PlanBuilder): boolean {
  if (input.row.status !== 'error') return false;
  const provisioned = getCondition(input.row.conditions, 'Provisioned');
  if (provisioned?.reason === 'InvalidSpec') return provisioned.observedGeneration === input.generation;
  if (provisioned?.reason !== 'QuotaExceeded') return false;
  const since = transitionTime(input.row.conditions, 'Provisioned') ?? 0;
  const left = since + input.timings.quotaRetryMs - input.now;
  if (left <= 0) return false;
  b.requeue(left);
  return true;
}

/** A droplet of the environment is being deleted to be replaced: wait until it is gone. */
function planReplacement(input: DiffInput, b: PlanBuilder): void {
  const old = input.row.dropletId;
  const stillThere = (input.observed?.droplets ?? []).find((d) => d.id === old);
  if (!input.observed?.authoritative) {
    b.waitForSweep();
    return;
  }
  if (stillThere) {
    b.act({ type: 'deleteDroplet', droplet: stillThere, why: 'replace' }).waitForSweep();
    return;
  }
  b.status({ status: 'pending', dropletId: null, ipAddress: null, privateIpAddress: null });
  const rest = { ...input, row: { ...input.row, status: 'pending' as const, dropletId: null } };
  if (waitingToRetryBoot(rest, b)) {
    b.event('Normal', 'DropletGone', `DigitalOcean confirms droplet ${old} is gone; its replacement waits its turn (boot failures)`);
    return;
  }
  b.event('Normal', 'DropletGone', `DigitalOcean confirms droplet ${old} is gone; creating its replacement`);
  planAbsent(rest, b);
}

/** No droplet carries the environment's name (as far as this process can tell). */
function planAbsent(input: DiffInput, b: PlanBuilder): void {
  if (waitingToRetryBoot(input, b)) return;
  if (!input.observed?.authoritative) {
    b.waitForSweep();
    return;
  }
  const name = `tb-${input.envId}`;
  const { row, create } = input;
  if (create?.phase === 'unknown') {
    b.act({ type: 'forgetCreate' }).event(
      'Warning',
      'CreateRetried',
      `the answer to creating ${name} was lost (${create.error.message}) and no droplet of that name appeared; creating it again`,
    );
  } else if (row.dropletId !== null) {
    b.event('Warning', 'DropletVanished', `droplet ${row.dropletId} (${name}) is gone — deleted outside toolbelt?; creating a replacement`);
  } else if (row.status === 'creating') {
    b.event('Normal', 'CreateRetried', `the create of ${name} recorded earlier left no droplet; creating it again`);
  }
  const { region, size, image } = input.placement;
  const message = `creating droplet ${name} in ${region} (${size}, ${image})`;
  b.act({ type: 'create' })
    .status({ status: 'creating', dropletId: null, ipAddress: null, privateIpAddress: null, createRequestedAt: input.now })
    .condition({ type: 'Provisioned', status: 'False', reason: 'Creating', message })
    .notReady('Creating', message)
    .without('PowerCycled')
    .observed()
    .event('Normal', 'Creating', message);
}

function adoptionEvent(input: DiffInput, droplet: Droplet, b: PlanBuilder): void {
  const { create } = input;
  if (create?.phase === 'created' && create.droplet.id === droplet.id) {
    b.event('Normal', 'DropletCreated', `created ${describeDroplet(droplet)} in a batch of ${create.batchSize}`);
  } else {
    const since = droplet.createdAt ? ` (created ${droplet.createdAt})` : '';
    b.event('Normal', 'Adopted', `adopted existing ${describeDroplet(droplet)}${since}: it carries this environment's name`);
  }
}

function planExisting(input: DiffInput, b: PlanBuilder, droplet: Droplet, duplicates: Droplet[]): void {
  if (input.row.dropletId !== droplet.id) adoptionEvent(input, droplet, b);
  if (input.create) b.act({ type: 'forgetCreate' });
  b.status({ dropletId: droplet.id, createRequestedAt: null, ipAddress: droplet.publicIpv4 ?? null, privateIpAddress: droplet.privateIpv4 ?? null });
  for (const duplicate of duplicates) {
    b.act({ type: 'deleteDroplet', droplet: duplicate, why: 'duplicate' }).event(
      'Warning',
      'DuplicateDeleted',
      `deleting ${describeDroplet(duplicate)}: a second droplet named for this environment (keeping ${droplet.id})`,
    );
  }
  const replaceWhy = replacementReason(input, droplet);
  if (replaceWhy) return replace(input, b, droplet, replaceWhy);
  if (droplet.status === 'new') return planBooting(input, b, droplet);
  if (droplet.status === 'off') return planPoweredOff(input, b, droplet);
  planAgent(input, b, droplet);
}

/** Why the droplet must be replaced, if it must. */
function replacementReason(input: DiffInput, droplet: Droplet): string | undefined {
  const { region, size } = input.placement;
  if (!input.observed?.authoritative) return undefined;
  if (droplet.status === 'archive') return `${describeDroplet(droplet)} is archived`;
  if (droplet.region !== region || droplet.size !== size) {
    return `the spec asks for ${size} in ${region} but ${describeDroplet(droplet)} is not`;
  }
  const created = Date.parse(droplet.createdAt);
  if (droplet.status === 'new' && !Number.isNaN(created) && input.now - created > input.timings.bootTimeoutMs) {
    return `${describeDroplet(droplet)} is still booting ${Math.round((input.now - created) / 1000)} s after its creation`;
  }
  return undefined;
}

function planBooting(input: DiffInput, b: PlanBuilder, droplet: Droplet): void {
  const message = `${describeDroplet(droplet)} is booting`;
  b.status({ status: 'provisioning' })
    .condition({ type: 'Provisioned', status: 'False', reason: 'Booting', message })
    .notReady('Booting', message)
    .observed(); // the sweep wakes this key when the droplet changes
}

function planPoweredOff(input: DiffInput, b: PlanBuilder, droplet: Droplet): void {
  const message = `${describeDroplet(droplet)} is off`;
  b.status({ status: 'provisioning' })
    .condition({ type: 'Provisioned', status: 'False', reason: 'PoweredOff', message })
    .notReady('PoweredOff', message)
    .observed();
  // A locked droplet is running an action (maybe our power-on); a stale sweep may predate it.
  if (droplet.locked || !input.observed?.authoritative) {
    b.waitForSweep();
    return;
  }
  b.act({ type: 'powerOn', droplet })
    .event('Warning', 'PoweringOn', `${message} (not by toolbelt); powering it on`)
    .waitForSweep();
}
