/**
 * Inputs for the environment diff's tests: a droplet, a condition, a whole DiffInput with
 * overrides (an authoritative sweep that lists nothing, no agent, the droplet alone), and
 * what to read off a plan.
 */
import type { Condition } from '@toolbelt/schema';
import type { DiffInput, Plan } from '../src/index.ts';
import { DEFAULT_LIFECYCLE_TIMINGS } from '../src/index.ts';
import type { Droplet } from '../src/provider/types.ts';

export const ENV = '0b6c3a52-8f5e-4c1e-9a57-2f0e8f1d3c11';
export const NOW = Date.parse('2026-11-24T12:00:00Z');
export const MIN = 60_000;

export function droplet(over: Partial<Droplet> = {}): Droplet {
  return {
    id: 101,
    name: `tb-${ENV}`,
    status: 'active',
    locked: false,
    tags: ['toolbelt'],
    region: 'nyc3',
    size: 's-1vcpu-1gb',
    image: 'ubuntu-24-04-x64',
    createdAt: new Date(NOW - 5 * MIN).toISOString(),
    publicIpv4: '203.0.113.7',
    privateIpv4: '10.10.0.7',
    ...over,
  };
}

export function condition(type: string, status: Condition['status'], reason: string, at: number): Condition {
  return { type, status, reason, message: '', lastTransitionTime: new Date(at).toISOString(), observedGeneration: 1 };
}

export type Overrides = Omit<Partial<DiffInput>, 'row' | 'observed'> & {
  row?: Partial<DiffInput['row']>;
  observed?: Partial<NonNullable<DiffInput['observed']>> | 'none';
};

export function input(over: Overrides = {}): DiffInput {
  const { row, observed, ...rest } = over;
  return {
    now: NOW,
    envId: ENV,
    generation: 1,
    want: { present: true },
    placement: { region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64' },
    row: {
      status: 'pending',
      dropletId: null,
      ipAddress: null,
      privateIpAddress: null,
      createRequestedAt: null,
      conditions: [],
      observedGeneration: 0,
      bootFailures: 0,
      ...row,
    },
    observed: observed === 'none' ? undefined : { droplets: [], authoritative: true, sweptAt: NOW - 1000, ...observed },
    create: undefined,
    agent: { connected: false, lastSeenAt: undefined },
    // The droplet alone: tests of the agent's part turn agentRequired on.
    timings: { ...DEFAULT_LIFECYCLE_TIMINGS, agentRequired: false },
    ...rest,
  };
}

export const types = (plan: Plan) => plan.actions.map((a) => a.type);
export const reasons = (plan: Plan) => plan.events.map((e) => e.reason);
export const cond = (plan: Plan, type: string) => plan.status.conditions.find((c) => c.type === type);
