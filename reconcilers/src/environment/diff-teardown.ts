/**
 * Disabled, or its agent deleted: stop the tools gracefully, delete the droplet, revoke its
 * credentials, and keep the row (`deleting`) until an authoritative sweep confirms the droplet
 * gone — then `deleted`, and the agent's rows go if the agent was deleted. Pure; part of the
 * environment diff.
 */
import type { Droplet } from '../provider/types.ts';
import { candidateDroplets } from './pick.ts';
import { type DiffInput, type PlanBuilder, describeDroplet } from './plan.ts';

const WHY = { disabled: 'the environment was disabled', 'agent-deleted': 'its agent was deleted' } as const;

/** Plans the teardown of an environment that should have no droplet. */
export function planTeardown(input: DiffInput, b: PlanBuilder): void {
  const { create } = input;
  // Disabled (or deleted) and enabled again starts the boot attempts over.
  b.status({ bootFailures: 0 }).without('BootFailed');
  // On the wire: the batcher wakes this key when it settles; the droplet is deleted then.
  if (create?.phase === 'sending') return;
  if (create?.phase === 'queued') b.act({ type: 'cancelCreate' });
  else if (create) b.act({ type: 'forgetCreate' });
  const droplets = candidateDroplets(input);
  if (droplets.length > 0) return planDelete(input, b, droplets);
  if (nothingCouldExist(input)) return planNeverCreated(input, b);
  if (!input.observed?.authoritative) {
    b.waitForSweep();
    return;
  }
  planGone(input, b);
}

/** No create was ever recorded and no droplet is known: nothing can exist on DigitalOcean. */
function nothingCouldExist(input: DiffInput): boolean {
  const { row } = input;
  return row.dropletId === null && row.createRequestedAt === null && ['pending', 'deleted', 'error'].includes(row.status);
}

function why(input: DiffInput): string {
  return input.want.present ? '' : WHY[input.want.why];
}

function planDelete(input: DiffInput, b: PlanBuilder, droplets: Droplet[]): void {
  const first = input.row.status !== 'deleting';
  const deleteWhy = input.want.present ? 'disabled' : input.want.why;
  const list = droplets.map(describeDroplet).join(', ');
  const message = `${why(input)}: deleting ${list}`;
  if (first) b.act({ type: 'stopTools' });
  // A droplet still listed by a sweep taken after the last delete is deleted again
  // (idempotent: DigitalOcean answers 404 once it is gone).
  if (first || input.observed?.authoritative) {
    for (const droplet of droplets) b.act({ type: 'deleteDroplet', droplet, why: deleteWhy });
  }
  if (first) b.act({ type: 'revokeCredentials' });
  b.status({ status: 'deleting', dropletId: droplets[0]!.id })
    .condition({ type: 'Provisioned', status: 'False', reason: 'Deleting', message })
    .notReady('Deleting', message)
    .without('PowerCycled')
    .observed()
    .waitForSweep();
  if (first) b.event('Normal', 'Deleting', `${message}; stopping its tools first and revoking its credentials`);
}

/** DigitalOcean confirms nothing of the environment is left. */
function planGone(input: DiffInput, b: PlanBuilder): void {
  const { row } = input;
  if (row.status !== 'deleted') {
    const what = row.dropletId !== null ? `droplet ${row.dropletId}` : `any droplet named tb-${input.envId}`;
    b.act({ type: 'revokeCredentials' }).event('Normal', 'DropletDeleted', `DigitalOcean confirms ${what} is gone (${why(input)})`);
  }
  const message = `${why(input)}; no droplet is left`;
  b.status({ status: 'deleted', dropletId: null, ipAddress: null, privateIpAddress: null, createRequestedAt: null })
    .condition({ type: 'Provisioned', status: 'False', reason: 'Deleted', message })
    .notReady('Disabled', message)
    .without('PowerCycled')
    .without('AgentConnected')
    .observed();
  if (!input.want.present && input.want.why === 'agent-deleted') b.act({ type: 'removeAgent' });
}

/** Disabled before any droplet was made: say so; remove the agent's rows if it was deleted. */
function planNeverCreated(input: DiffInput, b: PlanBuilder): void {
  const message = `${why(input)}; no droplet was created`;
  // An error (BootFailed, a refused create) is over: nothing is asked of DigitalOcean now.
  if (input.row.status === 'error') b.status({ status: 'deleted' });
  b.condition({ type: 'Provisioned', status: 'False', reason: 'Disabled', message }).notReady('Disabled', message).observed();
  if (!input.want.present && input.want.why === 'agent-deleted') b.act({ type: 'removeAgent' });
}
