/**
 * Names the gateway shows for the tools (and prompts) of an agent's tool instances:
 * `<instance_name>__<tool>`. MCP clients hold tool names to `^[A-Za-z0-9_-]{1,64}$` (the
 * strictest rule in the field; the 2025-11-25 revision allows dots and 128 characters), so a
 * name is spelled within that: other characters become `_`, and a name that had to change,
 * or is too long, or collides, gets a short hash of its origin so that it stays unique and
 * stable across lists. The map is rebuilt per list; a call resolves its name through it.
 */
import { createHash } from 'node:crypto';

export const MAX_NAME_LENGTH = 64;
const SEPARATOR = '__';
const VALID = /^[A-Za-z0-9_-]{1,64}$/;

/** The original of a gateway name: which instance, which tool. */
export interface NameOrigin {
  instanceName: string;
  name: string;
}

const shortHash = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 8);
const clean = (value: string) => value.replace(/[^A-Za-z0-9_-]/g, '_');

/** The gateway name of `name` offered by instance `instanceName`, before collisions. */
export function gatewayName(instanceName: string, name: string): string {
  const plain = `${instanceName}${SEPARATOR}${name}`;
  if (VALID.test(plain)) return plain;
  const suffix = `_${shortHash(plain)}`;
  return `${clean(instanceName)}${SEPARATOR}${clean(name)}`.slice(0, MAX_NAME_LENGTH - suffix.length) + suffix;
}

/**
 * Assigns every origin a unique gateway name (in the order given: instance, then the tool's
 * own order). A later origin whose name is taken gets its hash appended (and, in the
 * improbable case that is taken too, a counter).
 */
export function assignNames(origins: readonly NameOrigin[]): Map<string, NameOrigin> {
  const names = new Map<string, NameOrigin>();
  for (const origin of origins) {
    let name = gatewayName(origin.instanceName, origin.name);
    if (names.has(name)) {
      const suffix = `_${shortHash(`${origin.instanceName}\u0000${origin.name}`)}`;
      name = name.slice(0, MAX_NAME_LENGTH - suffix.length) + suffix;
      for (let n = 2; names.has(name); n += 1) name = `${name.slice(0, MAX_NAME_LENGTH - String(n).length - 1)}_${n}`;
    }
    names.set(name, origin);
  }
  return names;
}

/**
 * The instance a gateway name belongs to, read from the name alone when it is plain
 * (`<instance>__<tool>` with an instance of `instances`); undefined when only a list can say.
 */
export function parsePlainName(gateway: string, instances: readonly string[]): NameOrigin | undefined {
  const matches = instances
    .filter((instanceName) => gateway.length > instanceName.length + SEPARATOR.length && gateway.startsWith(`${instanceName}${SEPARATOR}`))
    .map((instanceName) => ({ instanceName, name: gateway.slice(instanceName.length + SEPARATOR.length) }));
  // Two instances may both fit (`a` + `b__c`, `a__b` + `c`): then only the list can say.
  const only = matches.length === 1 ? matches[0] : undefined;
  return only && gatewayName(only.instanceName, only.name) === gateway ? only : undefined;
}

/** Whether a tool passes an instance's filters (`allowed_tools` first, then `denied_tools`). */
export function toolAllowed(name: string, filters: { allowed_tools?: string[] | null; denied_tools?: string[] | null }): boolean {
  if (filters.allowed_tools && !filters.allowed_tools.includes(name)) return false;
  return !filters.denied_tools?.includes(name);
}
