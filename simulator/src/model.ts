/**
 * The simulator's records (what it stores) and the snapshots it hands out (what hooks and
 * the state API see). Records are mutable and private to the simulator; snapshots are copies.
 */

export type DropletStatus = 'new' | 'active' | 'off' | 'archive';
export type ActionStatus = 'in-progress' | 'completed' | 'errored';

/** Droplet action types the simulator carries out (other DigitalOcean types answer 422). */
export const DROPLET_ACTION_TYPES = ['power_on', 'power_off', 'shutdown', 'power_cycle', 'reboot', 'rebuild', 'rename'] as const;
export type DropletActionType = (typeof DROPLET_ACTION_TYPES)[number];

export interface DropletRecord {
  readonly id: number;
  name: string;
  readonly region: string;
  readonly size: string;
  image: number;
  readonly tags: string[];
  readonly userData: string | undefined;
  readonly sshKeys: readonly (string | number)[];
  readonly features: readonly string[];
  readonly vpcUuid: string;
  readonly createdAt: number;
  /** When the droplet becomes active (simulated ms since the epoch). */
  readonly bootAt: number;
  status: DropletStatus;
  readonly publicIp: string;
  readonly privateIp: string;
  readonly ipv6: string | undefined;
  /** Held in `new` by a fault until released. */
  held: boolean;
  /** Whether onBoot was called (it is called once per droplet). */
  booted: boolean;
  readonly createActionId: number;
  /** The running action that locks the droplet, if any. */
  pendingActionId: number | undefined;
}

export interface ActionRecord {
  readonly id: number;
  readonly type: string;
  readonly dropletId: number;
  readonly region: string;
  readonly startedAt: number;
  /** When the action completes; undefined for a create, which completes at boot. */
  readonly completeAt: number | undefined;
  status: ActionStatus;
  completedAt: number | undefined;
  /** Parameters the action applies when it completes (rebuild: image; rename: name). */
  readonly params: { readonly image?: number; readonly name?: string };
}

/** A droplet as hooks and the state API see it (a copy; changing it changes nothing). */
export interface DropletInfo {
  readonly id: number;
  readonly name: string;
  readonly status: DropletStatus;
  readonly locked: boolean;
  readonly tags: readonly string[];
  /** Region slug, e.g. `nyc3`. */
  readonly region: string;
  /** Size slug, e.g. `s-1vcpu-1gb`. */
  readonly size: string;
  /** Image slug, e.g. `ubuntu-24-04-x64`. */
  readonly image: string;
  /** The user_data document given at create (cloud-init), if any. */
  readonly userData: string | undefined;
  readonly sshKeys: readonly (string | number)[];
  /**
   * Public IPv4 address: a loopback address (127.64.0.0/10), so anything dialling it stays on
   * this machine — or what the `publicIpv4` hook said (local droplets: 127.0.0.1).
   */
  readonly publicIp: string;
  /** Private IPv4 address (10.108.0.0/14). */
  readonly privateIp: string;
  /** Creation time, simulated ms since the epoch. */
  readonly createdAt: number;
  /** When the droplet becomes (or became) active, simulated ms since the epoch. */
  readonly bootAt: number;
}

/** An error a hook threw (or rejected with); the simulator records it and carries on. */
export interface HookError {
  readonly hook: 'onBoot' | 'onDelete' | 'onStatusChange' | 'onRestart' | 'publicIpv4';
  readonly dropletId: number;
  readonly error: Error;
  /** Simulated time of the failure. */
  readonly at: number;
}

/** Addresses for the n-th droplet (n ≥ 0): loopback public, 10.108/14 private, 2001:db8 v6. */
export function addressesFor(n: number): { publicIp: string; privateIp: string; ipv6: string } {
  // Hosts .2-.254: .1 is each /24's gateway.
  const host = 2 + (n % 253);
  const rest = Math.floor(n / 253);
  const b = rest % 256;
  const high = Math.floor(rest / 256);
  return {
    publicIp: `127.${64 + (high % 64)}.${b}.${host}`,
    privateIp: `10.${108 + (high % 4)}.${b}.${host}`,
    ipv6: `2001:db8::${(n + 1).toString(16)}`,
  };
}
