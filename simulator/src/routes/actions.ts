/**
 * Droplet actions (power_on, power_off, shutdown, power_cycle, reboot, rebuild, rename) and
 * reading actions, per droplet and account-wide. An action takes a short simulated time;
 * meanwhile the droplet is locked and another action answers 422 as at DigitalOcean.
 */
import { notFound, unprocessable } from '../api-error.ts';
import { findImage } from '../catalog-data.ts';
import { type ActionRecord, DROPLET_ACTION_TYPES, type DropletActionType } from '../model.ts';
import { paginate } from '../pagination.ts';
import { renderAction } from '../render.ts';
import type { Answer, RequestContext, Router } from '../router.ts';
import { requireDroplet } from '../state.ts';
import { checkDropletName, requireObject } from '../validate.ts';

/** Action types DigitalOcean knows but the simulator does not carry out. */
const UNSUPPORTED = new Set([
  'enable_backups', 'disable_backups', 'change_backup_policy', 'password_reset', 'restore',
  'resize', 'change_kernel', 'enable_ipv6', 'snapshot', 'enable_private_networking',
]);

function readActionParams(type: DropletActionType, body: Record<string, unknown>): ActionRecord['params'] {
  if (type === 'rebuild') {
    const ref = body.image;
    const image = typeof ref === 'string' || typeof ref === 'number' ? findImage(ref) : undefined;
    if (!image) throw unprocessable(`rebuild needs a valid image (slug or id); got ${JSON.stringify(ref)}.`);
    return { image: image.id };
  }
  if (type === 'rename') {
    if (typeof body.name !== 'string') throw unprocessable('rename needs a name.');
    return { name: checkDropletName(body.name) };
  }
  return {};
}

function readActionType(body: Record<string, unknown>): DropletActionType {
  const type = body.type;
  if (typeof type !== 'string' || type === '') throw unprocessable('type is required, e.g. {"type": "power_on"}.');
  if ((DROPLET_ACTION_TYPES as readonly string[]).includes(type)) return type as DropletActionType;
  if (UNSUPPORTED.has(type)) {
    throw unprocessable(`The simulator does not carry out "${type}" actions; it supports ${DROPLET_ACTION_TYPES.join(', ')}.`);
  }
  throw unprocessable(`"${type}" is not a valid droplet action type.`);
}

function postAction(ctx: RequestContext): Answer {
  const droplet = requireDroplet(ctx.state, ctx.params.droplet_id);
  const body = requireObject(ctx.body);
  const type = readActionType(body);
  const action = ctx.state.startAction(droplet, type, readActionParams(type, body));
  return { status: 201, body: { action: renderAction(action) } };
}

function listDropletActions(ctx: RequestContext): Answer {
  const droplet = requireDroplet(ctx.state, ctx.params.droplet_id);
  const actions = [...ctx.state.actions.values()].filter((a) => a.dropletId === droplet.id);
  return { status: 200, body: paginate(ctx, 'actions', actions, renderAction) };
}

function requireAction(ctx: RequestContext, dropletId?: number): ActionRecord {
  const id = ctx.params.action_id ?? '';
  const action = /^\d+$/.test(id) ? ctx.state.action(Number(id)) : undefined;
  if (!action || (dropletId !== undefined && action.dropletId !== dropletId)) throw notFound();
  return action;
}

function getDropletAction(ctx: RequestContext): Answer {
  const droplet = requireDroplet(ctx.state, ctx.params.droplet_id);
  return { status: 200, body: { action: renderAction(requireAction(ctx, droplet.id)) } };
}

function listActions(ctx: RequestContext): Answer {
  // Only the actions on the page are settled (and rendered).
  const render = (action: ActionRecord) => renderAction(ctx.state.action(action.id) ?? action);
  return { status: 200, body: paginate(ctx, 'actions', [...ctx.state.actions.values()], render) };
}

export function actionRoutes(router: Router): void {
  router
    .add('GET', '/v2/droplets/{droplet_id}/actions', listDropletActions)
    .add('POST', '/v2/droplets/{droplet_id}/actions', postAction)
    .add('GET', '/v2/droplets/{droplet_id}/actions/{action_id}', getDropletAction)
    .add('GET', '/v2/actions', listActions)
    .add('GET', '/v2/actions/{action_id}', (ctx) => ({ status: 200, body: { action: renderAction(requireAction(ctx)) } }));
}
