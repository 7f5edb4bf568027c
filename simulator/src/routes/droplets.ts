/**
 * Droplets: create (one or up to 10), get, list (by tag or name, paged), delete, and delete
 * every droplet carrying a tag.
 */
import { notFound, unprocessable } from '../api-error.ts';
import { readCreateRequest } from '../droplet-create.ts';
import type { DropletRecord } from '../model.ts';
import { paginate } from '../pagination.ts';
import { renderDroplet } from '../render.ts';
import type { Answer, RequestContext, Router } from '../router.ts';
import { requireDroplet } from '../state.ts';

function listDroplets(ctx: RequestContext): Answer {
  const tag = ctx.query.get('tag_name');
  const name = ctx.query.get('name');
  if (tag !== null && name !== null) throw unprocessable('tag_name cannot be combined with name.');
  let droplets: DropletRecord[] = ctx.state.listDroplets(tag ?? undefined, false);
  if (name !== null) droplets = droplets.filter((d) => d.name.toLowerCase() === name.toLowerCase());
  const render = (droplet: DropletRecord) => {
    ctx.state.settle(droplet);
    return renderDroplet(droplet);
  };
  return { status: 200, body: paginate(ctx, 'droplets', droplets, render) };
}

function createDroplets(ctx: RequestContext): Answer {
  const specs = readCreateRequest(ctx.body);
  const single = (ctx.body as Record<string, unknown>).name !== undefined;
  const created = ctx.state.createDroplets(specs);
  const links = {
    actions: created.map((d) => ({ id: d.createActionId, rel: 'create', href: `${ctx.baseUrl}/actions/${d.createActionId}` })),
  };
  const body = single ? { droplet: renderDroplet(created[0]!), links } : { droplets: created.map(renderDroplet), links };
  return { status: 202, body };
}

function deleteByTag(ctx: RequestContext): Answer {
  const tag = ctx.query.get('tag_name');
  if (!tag) throw unprocessable('tag_name is required: DELETE /v2/droplets deletes the droplets carrying that tag.');
  for (const droplet of ctx.state.listDroplets(tag)) ctx.state.deleteDroplet(droplet.id);
  return { status: 204 };
}

function getDroplet(ctx: RequestContext): Answer {
  return { status: 200, body: { droplet: renderDroplet(requireDroplet(ctx.state, ctx.params.droplet_id)) } };
}

function deleteDroplet(ctx: RequestContext): Answer {
  const droplet = requireDroplet(ctx.state, ctx.params.droplet_id);
  if (!ctx.state.deleteDroplet(droplet.id)) throw notFound();
  return { status: 204 };
}

export function dropletRoutes(router: Router): void {
  router
    .add('GET', '/v2/droplets', listDroplets)
    .add('POST', '/v2/droplets', createDroplets)
    .add('DELETE', '/v2/droplets', deleteByTag)
    .add('GET', '/v2/droplets/{droplet_id}', getDroplet)
    .add('DELETE', '/v2/droplets/{droplet_id}', deleteDroplet);
}
