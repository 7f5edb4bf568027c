/**
 * Reading firewall bodies with DigitalOcean's rules: a name, droplet ids that exist, valid
 * tags, and rules whose protocol, ports and sources/destinations make sense. Ports `all`
 * is stored as "0", and ICMP rules always have ports "0", as DigitalOcean reports them.
 */
import { isIP } from 'node:net';
import { unprocessable } from './api-error.ts';
import type { InboundRule, OutboundRule, RuleTargets } from './firewall-store.ts';
import type { SimState } from './state.ts';
import { checkTagName, requireObject, stringList } from './validate.ts';

const FIREWALL_NAME = /^[a-zA-Z0-9][a-zA-Z0-9.-]+$/;
const PROTOCOLS = ['tcp', 'udp', 'icmp'] as const;

export function readFirewallName(value: unknown): string {
  if (typeof value !== 'string' || value.length > 255 || !FIREWALL_NAME.test(value)) {
    throw unprocessable('name must be 2-255 characters: letters, digits, "." and "-", starting with a letter or digit.');
  }
  return value;
}

/** Droplet ids that must all exist. */
export function readDropletIds(state: SimState, value: unknown, field = 'droplet_ids'): number[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => Number.isInteger(v))) throw unprocessable(`${field} must be an array of droplet ids.`);
  for (const id of value as number[]) {
    if (!state.droplet(id)) throw unprocessable(`${field}: droplet ${id} could not be found.`);
  }
  return [...new Set(value as number[])];
}

export function readTags(value: unknown, field = 'tags'): string[] {
  return [...new Set(stringList(value, field).map(checkTagName))];
}

function readPorts(protocol: string, ports: unknown): string {
  if (protocol === 'icmp') return '0';
  if (ports === 'all' || ports === '0') return '0';
  const match = typeof ports === 'string' ? /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(ports) : null;
  const low = Number(match?.[1]);
  const high = match?.[2] === undefined ? low : Number(match[2]);
  if (!match || low < 1 || high > 65535 || high < low) {
    throw unprocessable(`You must specify a valid range for ports: "${String(ports)}" (a port, "low-high", or "all").`);
  }
  return ports as string;
}

function readAddresses(value: unknown, field: string): string[] {
  const addresses = stringList(value, field);
  for (const address of addresses) {
    if (isIP(address.split('/')[0] ?? '') === 0) throw unprocessable(`${field}: "${address}" is not an IP address or CIDR block.`);
  }
  return addresses;
}

function readTargets(state: SimState, value: unknown, field: string): RuleTargets {
  if (Array.isArray(value) || value === null || typeof value !== 'object') {
    throw unprocessable(`You specified an invalid type for one of the ${field}: it must be an object.`);
  }
  const raw = value as Record<string, unknown>;
  const all: RuleTargets = {
    addresses: readAddresses(raw.addresses, `${field}.addresses`),
    droplet_ids: readDropletIds(state, raw.droplet_ids, `${field}.droplet_ids`),
    load_balancer_uids: stringList(raw.load_balancer_uids, `${field}.load_balancer_uids`),
    kubernetes_ids: stringList(raw.kubernetes_ids, `${field}.kubernetes_ids`),
    tags: readTags(raw.tags, `${field}.tags`),
  };
  // Only the kinds that were given, as DigitalOcean echoes them.
  const targets = Object.fromEntries(Object.entries(all).filter(([, list]) => (list as unknown[]).length > 0)) as RuleTargets;
  if (Object.keys(targets).length === 0) throw unprocessable(`${field} must name at least one address, droplet, load balancer, cluster or tag.`);
  return targets;
}

function readRule(state: SimState, value: unknown, side: 'sources' | 'destinations') {
  const rule = requireObject(value);
  const protocol = rule.protocol;
  if (typeof protocol !== 'string' || !(PROTOCOLS as readonly string[]).includes(protocol)) {
    throw unprocessable(`protocol must be one of ${PROTOCOLS.join(', ')}; got ${JSON.stringify(protocol)}.`);
  }
  const ports = readPorts(protocol, rule.ports);
  const targets = readTargets(state, rule[side], side);
  return { protocol: protocol as InboundRule['protocol'], ports, targets };
}

export function readInboundRules(state: SimState, value: unknown): InboundRule[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw unprocessable('inbound_rules must be an array.');
  return value.map((v: unknown) => {
    const { protocol, ports, targets } = readRule(state, v, 'sources');
    return { protocol, ports, sources: targets };
  });
}

export function readOutboundRules(state: SimState, value: unknown): OutboundRule[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw unprocessable('outbound_rules must be an array.');
  return value.map((v: unknown) => {
    const { protocol, ports, targets } = readRule(state, v, 'destinations');
    return { protocol, ports, destinations: targets };
  });
}

/** Both rule lists of a body that must carry at least one of them. */
export function readRuleLists(state: SimState, body: Record<string, unknown>) {
  if (body.inbound_rules === undefined && body.outbound_rules === undefined) {
    throw unprocessable('Give inbound_rules, outbound_rules or both.');
  }
  return { inbound: readInboundRules(state, body.inbound_rules), outbound: readOutboundRules(state, body.outbound_rules) };
}

/** Rules compare by their normalised JSON (ports "all" and "0" are the same rule). */
export const sameRule = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
