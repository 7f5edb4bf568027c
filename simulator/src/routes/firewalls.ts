/**
 * Cloud firewalls: create, get, list, update (full replace), delete, and adding or removing
 * droplets, tags and rules.
 */
import { notFound } from '../api-error.ts';
import type { FirewallRecord } from '../firewall-store.ts';
import {
  readDropletIds,
  readFirewallName,
  readRuleLists,
  readTags,
  sameRule,
} from '../firewall-rules.ts';
import { paginate } from '../pagination.ts';
import { renderFirewall } from '../render.ts';
import type { Answer, RequestContext, Router } from '../router.ts';
import { requireObject } from '../validate.ts';

function requireFirewall(ctx: RequestContext): FirewallRecord {
  const firewall = ctx.state.firewalls.get(ctx.params.firewall_id ?? '');
  if (!firewall) throw notFound();
  return firewall;
}

/** Everything a create or a full update sets, read and checked before anything changes. */
function readFirewall(ctx: RequestContext) {
  const body = requireObject(ctx.body);
  const rules = readRuleLists(ctx.state, body);
  return {
    name: readFirewallName(body.name),
    dropletIds: readDropletIds(ctx.state, body.droplet_ids),
    tags: readTags(body.tags),
    inboundRules: rules.inbound,
    outboundRules: rules.outbound,
  };
}

function createFirewall(ctx: RequestContext): Answer {
  const firewall: FirewallRecord = { id: ctx.state.uuid(), createdAt: ctx.state.now, ...readFirewall(ctx) };
  ctx.state.firewalls.put(firewall);
  return { status: 202, body: { firewall: renderFirewall(firewall) } };
}

function updateFirewall(ctx: RequestContext): Answer {
  const firewall = requireFirewall(ctx);
  Object.assign(firewall, readFirewall(ctx));
  return { status: 200, body: { firewall: renderFirewall(firewall) } };
}

const union = <T>(a: readonly T[], b: readonly T[]): T[] => [...new Set([...a, ...b])];
const minus = <T>(a: readonly T[], b: readonly T[]): T[] => a.filter((x) => !b.includes(x));

function changeDroplets(add: boolean) {
  return (ctx: RequestContext): Answer => {
    const firewall = requireFirewall(ctx);
    const ids = readDropletIds(ctx.state, requireObject(ctx.body).droplet_ids);
    firewall.dropletIds = add ? union(firewall.dropletIds, ids) : minus(firewall.dropletIds, ids);
    return { status: 204 };
  };
}

function changeTags(add: boolean) {
  return (ctx: RequestContext): Answer => {
    const firewall = requireFirewall(ctx);
    const tags = readTags(requireObject(ctx.body).tags);
    firewall.tags = add ? union(firewall.tags, tags) : minus(firewall.tags, tags);
    return { status: 204 };
  };
}

function changeRules(add: boolean) {
  return (ctx: RequestContext): Answer => {
    const firewall = requireFirewall(ctx);
    const body = requireObject(ctx.body);
    const rules = readRuleLists(ctx.state, body);
    const merge = <R>(current: R[], given: R[]) =>
      add ? [...current, ...given.filter((g) => !current.some((c) => sameRule(c, g)))] : current.filter((c) => !given.some((g) => sameRule(c, g)));
    firewall.inboundRules = merge(firewall.inboundRules, rules.inbound);
    firewall.outboundRules = merge(firewall.outboundRules, rules.outbound);
    return { status: 204 };
  };
}

export function firewallRoutes(router: Router): void {
  router
    .add('GET', '/v2/firewalls', (ctx) => ({ status: 200, body: paginate(ctx, 'firewalls', ctx.state.firewalls.list(), renderFirewall) }))
    .add('POST', '/v2/firewalls', createFirewall)
    .add('GET', '/v2/firewalls/{firewall_id}', (ctx) => ({ status: 200, body: { firewall: renderFirewall(requireFirewall(ctx)) } }))
    .add('PUT', '/v2/firewalls/{firewall_id}', updateFirewall)
    .add('DELETE', '/v2/firewalls/{firewall_id}', (ctx) => {
      ctx.state.firewalls.delete(requireFirewall(ctx).id);
      return { status: 204 };
    })
    .add('POST', '/v2/firewalls/{firewall_id}/droplets', changeDroplets(true))
    .add('DELETE', '/v2/firewalls/{firewall_id}/droplets', changeDroplets(false))
    .add('POST', '/v2/firewalls/{firewall_id}/tags', changeTags(true))
    .add('DELETE', '/v2/firewalls/{firewall_id}/tags', changeTags(false))
    .add('POST', '/v2/firewalls/{firewall_id}/rules', changeRules(true))
    .add('DELETE', '/v2/firewalls/{firewall_id}/rules', changeRules(false));
}
