/**
 * Tags: create (idempotent, as at DigitalOcean), get, list, delete, and tagging or untagging
 * droplets. Only droplets can be tagged in the simulator.
 */
import { notFound, unprocessable } from '../api-error.ts';
import type { DropletRecord } from '../model.ts';
import { paginate } from '../pagination.ts';
import { renderTag } from '../render.ts';
import type { Answer, RequestContext, Router } from '../router.ts';
import { checkTagName, requireObject, requiredString } from '../validate.ts';

function requireTag(ctx: RequestContext): string {
  const name = ctx.params.tag_id ?? '';
  if (!ctx.state.tags.has(name)) throw notFound();
  return name;
}

/** The droplets a resources body names; every one is checked before anything changes. */
function readResources(ctx: RequestContext): DropletRecord[] {
  const resources = requireObject(ctx.body).resources;
  if (!Array.isArray(resources) || resources.length === 0) {
    throw unprocessable('resources must be a non-empty array of {resource_id, resource_type}.');
  }
  return resources.map((resource: unknown) => {
    const { resource_id: id, resource_type: type } = requireObject(resource);
    if (type !== 'droplet') throw unprocessable(`The simulator can only tag droplets, not resource_type "${String(type)}".`);
    const droplet = /^\d+$/.test(String(id)) ? ctx.state.droplet(Number(id)) : undefined;
    if (!droplet) throw notFound(`Droplet ${String(id)} could not be found.`);
    return droplet;
  });
}

function createTag(ctx: RequestContext): Answer {
  const name = checkTagName(requiredString(requireObject(ctx.body), 'name'));
  ctx.state.tags.ensure(name);
  return { status: 201, body: { tag: renderTag(ctx.state, name, ctx.baseUrl) } };
}

function tagResources(ctx: RequestContext): Answer {
  const name = requireTag(ctx);
  for (const droplet of readResources(ctx)) ctx.state.tagDroplet(name, droplet);
  return { status: 204 };
}

function untagResources(ctx: RequestContext): Answer {
  const name = requireTag(ctx);
  for (const droplet of readResources(ctx)) ctx.state.untagDroplet(name, droplet);
  return { status: 204 };
}

export function tagRoutes(router: Router): void {
  router
    .add('GET', '/v2/tags', (ctx) => ({
      status: 200,
      body: paginate(ctx, 'tags', ctx.state.tags.names(), (name) => renderTag(ctx.state, name, ctx.baseUrl)),
    }))
    .add('POST', '/v2/tags', createTag)
    .add('GET', '/v2/tags/{tag_id}', (ctx) => ({ status: 200, body: { tag: renderTag(ctx.state, requireTag(ctx), ctx.baseUrl) } }))
    .add('DELETE', '/v2/tags/{tag_id}', (ctx) => {
      ctx.state.deleteTag(requireTag(ctx));
      return { status: 204 };
    })
    .add('POST', '/v2/tags/{tag_id}/resources', tagResources)
    .add('DELETE', '/v2/tags/{tag_id}/resources', untagResources);
}
