/**
 * The simulated account: droplets, their actions and the tag index, with the droplet
 * lifecycle. Transitions are computed lazily from `clock.now()` whenever a droplet is read
 * (so a manual clock needs no timers to fire), and also woken by `clock.sleep` timers so that
 * hooks run on time even when nobody polls.
 */
import type { Clock } from '@toolbelt/schema/clock';
import { DROPLET_LIMIT, notFound, PENDING_EVENT, unprocessable } from './api-error.ts';
import { findImage } from './catalog-data.ts';
import { FirewallStore } from './firewall-store.ts';
import { HookRunner, type SimulatorHooks } from './hooks.ts';
import {
  type ActionRecord,
  addressesFor,
  type DropletActionType,
  type DropletInfo,
  type DropletRecord,
  type DropletStatus,
} from './model.ts';
import type { DelaySpec, Random } from './random.ts';
import { Scheduler } from './scheduler.ts';
import { TagIndex } from './tag-index.ts';

export interface StateOptions extends SimulatorHooks {
  readonly clock: Clock;
  readonly random: Random;
  readonly bootDelayMs: DelaySpec;
  readonly actionDurationMs: DelaySpec;
  readonly dropletLimit: number;
}

/** What a validated create request asks for, per droplet. */
export interface CreateSpec {
  readonly name: string;
  readonly region: string;
  readonly size: string;
  readonly image: number;
  readonly tags: readonly string[];
  readonly userData: string | undefined;
  readonly sshKeys: readonly (string | number)[];
  readonly features: readonly string[];
  readonly ipv6: boolean;
}

/** The status each action leaves the droplet in (rename leaves it as it was). */
const ACTION_RESULT: Record<DropletActionType, DropletStatus | undefined> = {
  power_on: 'active',
  power_off: 'off',
  shutdown: 'off',
  power_cycle: 'active',
  reboot: 'active',
  rebuild: 'active',
  rename: undefined,
};

const FIRST_DROPLET_ID = 500_000_001;

const isIpv4 = (value: unknown): boolean =>
  typeof value === 'string' && /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(value) && value.split('.').every((part) => Number(part) <= 255);
const FIRST_ACTION_ID = 2_000_000_001;

export class SimState {
  readonly droplets = new Map<number, DropletRecord>();
  readonly actions = new Map<number, ActionRecord>();
  readonly tags = new TagIndex();
  readonly firewalls = new FirewallStore();
  readonly hooks: HookRunner;
  dropletLimit: number;

  readonly #options: StateOptions;
  readonly #scheduler: Scheduler;
  readonly #holds: ((droplet: DropletInfo) => boolean)[] = [];
  #nextDropletId = FIRST_DROPLET_ID;
  #nextActionId = FIRST_ACTION_ID;
  #created = 0;

  constructor(options: StateOptions) {
    this.#options = options;
    this.dropletLimit = options.dropletLimit;
    this.hooks = new HookRunner(options.clock);
    this.#scheduler = new Scheduler(options.clock, (id) => {
      const droplet = this.droplets.get(id);
      if (droplet) this.settle(droplet);
    });
  }

  get now(): number {
    return this.#options.clock.now();
  }

  /** A fresh UUID (deterministic when the simulator was seeded). */
  uuid(): string {
    return this.#options.random.uuid();
  }

  /** Creates droplets (all or none: the droplet limit is checked for the whole batch). */
  createDroplets(specs: readonly CreateSpec[]): DropletRecord[] {
    if (this.droplets.size + specs.length > this.dropletLimit) throw unprocessable(DROPLET_LIMIT);
    return specs.map((spec) => this.#createOne(spec));
  }

  #createOne(spec: CreateSpec): DropletRecord {
    const now = this.now;
    const id = this.#nextDropletId++;
    const addresses = addressesFor(this.#created++);
    const createAction = this.#newAction({ dropletId: id, type: 'create', region: spec.region, completeAt: undefined, params: {} });
    const droplet: DropletRecord = {
      id,
      name: spec.name,
      region: spec.region,
      size: spec.size,
      image: spec.image,
      tags: [],
      userData: spec.userData,
      sshKeys: spec.sshKeys,
      features: spec.features,
      vpcUuid: vpcUuidFor(spec.region),
      createdAt: now,
      bootAt: now + Math.max(0, this.#options.random.delay(this.#options.bootDelayMs)),
      status: 'new',
      publicIp: this.#publicIpv4(id, spec.name, addresses.publicIp),
      privateIp: addresses.privateIp,
      ipv6: spec.ipv6 ? addresses.ipv6 : undefined,
      held: false,
      booted: false,
      createActionId: createAction.id,
      pendingActionId: undefined,
    };
    this.droplets.set(id, droplet);
    for (const tag of spec.tags) this.tagDroplet(tag, droplet);
    droplet.held = this.#holds.some((hold) => hold(toInfo(droplet)));
    this.#scheduler.schedule(droplet.bootAt, id);
    return droplet;
  }

  /** The public IPv4 the `publicIpv4` hook gives a new droplet, else `fallback`. */
  #publicIpv4(id: number, name: string, fallback: string): string {
    const hook = this.#options.publicIpv4;
    return (hook && this.hooks.value('publicIpv4', id, () => hook({ id, name }), isIpv4)) ?? fallback;
  }

  /** A droplet with its transitions brought up to now; undefined when it does not exist. */
  droplet(id: number): DropletRecord | undefined {
    const droplet = this.droplets.get(id);
    if (droplet) this.settle(droplet);
    return droplet;
  }

  /**
   * Every droplet (or those with `tag`) in id order; settled unless `settle` is false (a
   * list route settles only the page it renders).
   */
  listDroplets(tag?: string, settle = true): DropletRecord[] {
    const list = tag === undefined ? [...this.droplets.values()] : this.tags.dropletIds(tag).map((id) => this.droplets.get(id)!);
    if (settle) for (const droplet of list) this.settle(droplet);
    // Tag order is tagging order; mostly id order already, so this sort is near linear.
    return tag === undefined ? list : list.sort((a, b) => a.id - b.id);
  }

  /** An action with its droplet settled first. */
  action(id: number): ActionRecord | undefined {
    const action = this.actions.get(id);
    if (action) this.droplet(action.dropletId);
    return action;
  }

  /** Deletes a droplet (API delete or a vanish fault); calls onDelete. */
  deleteDroplet(id: number): boolean {
    const droplet = this.droplet(id);
    if (!droplet) return false;
    this.droplets.delete(id);
    for (const tag of droplet.tags) this.tags.remove(tag, id);
    this.firewalls.forgetDroplet(id);
    for (const actionId of [droplet.createActionId, droplet.pendingActionId]) {
      const action = actionId === undefined ? undefined : this.actions.get(actionId);
      if (action?.status === 'in-progress') this.#finishAction(action, 'errored');
    }
    const info = toInfo(droplet);
    const { onDelete } = this.#options;
    if (onDelete) this.hooks.run('onDelete', id, () => onDelete(info));
    return true;
  }

  /** Starts an action; 422 (as DigitalOcean) when the droplet is busy. */
  startAction(droplet: DropletRecord, type: DropletActionType, params: ActionRecord['params']): ActionRecord {
    this.settle(droplet);
    if (droplet.pendingActionId !== undefined || droplet.status === 'new') throw unprocessable(PENDING_EVENT);
    if (droplet.status === 'archive') throw unprocessable('The droplet is archived and cannot take actions.');
    const duration = Math.max(0, this.#options.random.delay(this.#options.actionDurationMs));
    const action = this.#newAction({ dropletId: droplet.id, type, region: droplet.region, completeAt: this.now + duration, params });
    droplet.pendingActionId = action.id;
    this.#scheduler.schedule(action.completeAt!, droplet.id);
    return action;
  }

  tagDroplet(tag: string, droplet: DropletRecord): void {
    this.tags.add(tag, droplet.id);
    if (!droplet.tags.includes(tag)) droplet.tags.push(tag);
  }

  untagDroplet(tag: string, droplet: DropletRecord): void {
    this.tags.remove(tag, droplet.id);
    const at = droplet.tags.indexOf(tag);
    if (at >= 0) droplet.tags.splice(at, 1);
  }

  /** Deletes a tag, untagging every droplet that carried it. */
  deleteTag(tag: string): boolean {
    if (!this.tags.has(tag)) return false;
    for (const id of this.tags.dropletIds(tag)) this.untagDroplet(tag, this.droplets.get(id)!);
    this.firewalls.forgetTag(tag);
    return this.tags.delete(tag);
  }

  /** Brings a droplet's lifecycle up to the clock's now: boot, then a due action. */
  settle(droplet: DropletRecord): void {
    const now = this.now;
    if (droplet.status === 'new' && !droplet.held && now >= droplet.bootAt) this.setStatus(droplet, 'active', droplet.bootAt);
    const action = droplet.pendingActionId === undefined ? undefined : this.actions.get(droplet.pendingActionId);
    if (action?.completeAt !== undefined && now >= action.completeAt) this.#completeAction(droplet, action);
  }

  /**
   * Sets a droplet's status, running hooks; leaving `new` completes its create action
   * (as of simulated time `at`, default now).
   */
  setStatus(droplet: DropletRecord, to: DropletStatus, at = this.now): void {
    const from = droplet.status;
    if (from === to) return;
    droplet.status = to;
    if (from === 'new') {
      const create = this.actions.get(droplet.createActionId);
      if (create?.status === 'in-progress') this.#finishAction(create, 'completed', at);
    }
    const info = toInfo(droplet);
    const { onStatusChange, onBoot } = this.#options;
    if (onStatusChange) this.hooks.run('onStatusChange', droplet.id, () => onStatusChange(info, from));
    if (to === 'active' && !droplet.booted) {
      droplet.booted = true;
      if (onBoot) this.hooks.run('onBoot', droplet.id, () => onBoot(info));
    }
  }

  /** Holds matching droplets (now and future ones) in `new` until released. */
  holdInNew(match: number | ((droplet: DropletInfo) => boolean)): boolean {
    if (typeof match === 'function') {
      this.#holds.push(match);
      for (const droplet of this.droplets.values()) {
        if (droplet.status === 'new' && match(toInfo(droplet))) droplet.held = true;
      }
      return true;
    }
    const droplet = this.droplet(match);
    if (!droplet || droplet.status !== 'new') return false;
    droplet.held = true;
    return true;
  }

  /** Releases a held droplet (it boots at once if its boot time has passed). */
  release(id: number): boolean {
    const droplet = this.droplets.get(id);
    if (!droplet?.held) return false;
    droplet.held = false;
    if (droplet.status === 'new' && this.now >= droplet.bootAt) this.setStatus(droplet, 'active');
    this.settle(droplet);
    return true;
  }

  /** Forgets every hold rule and releases every held droplet. */
  releaseAll(): void {
    this.#holds.length = 0;
    for (const droplet of this.droplets.values()) {
      if (droplet.held) this.release(droplet.id);
    }
  }

  /** Stops timers and waits for running hooks. */
  async close(): Promise<void> {
    this.#scheduler.close();
    await this.hooks.drain();
  }

  #newAction(what: Pick<ActionRecord, 'dropletId' | 'type' | 'region' | 'completeAt' | 'params'>): ActionRecord {
    const action: ActionRecord = { ...what, id: this.#nextActionId++, startedAt: this.now, status: 'in-progress', completedAt: undefined };
    this.actions.set(action.id, action);
    return action;
  }

  #completeAction(droplet: DropletRecord, action: ActionRecord): void {
    droplet.pendingActionId = undefined;
    this.#finishAction(action, 'completed', action.completeAt);
    if (action.params.image !== undefined) droplet.image = action.params.image;
    if (action.params.name !== undefined) droplet.name = action.params.name;
    const to = ACTION_RESULT[action.type as DropletActionType];
    const restarted = droplet.status === 'active' && (action.type === 'power_cycle' || action.type === 'reboot');
    if (to) this.setStatus(droplet, to);
    const { onRestart } = this.#options;
    if (restarted && onRestart) {
      const type = action.type as 'power_cycle' | 'reboot';
      this.hooks.run('onRestart', droplet.id, () => onRestart(toInfo(droplet), type));
    }
  }

  #finishAction(action: ActionRecord, status: 'completed' | 'errored', at = this.now): void {
    action.status = status;
    action.completedAt = Math.max(action.startedAt, at);
  }
}

/** Throws the 404 DigitalOcean answers for a droplet that does not exist. */
export function requireDroplet(state: SimState, id: string | undefined): DropletRecord {
  const droplet = /^\d+$/.test(id ?? '') ? state.droplet(Number(id)) : undefined;
  if (!droplet) throw notFound();
  return droplet;
}

/** A snapshot of a droplet for hooks and the state API. */
export function toInfo(droplet: DropletRecord): DropletInfo {
  return {
    id: droplet.id,
    name: droplet.name,
    status: droplet.status,
    locked: droplet.pendingActionId !== undefined,
    tags: [...droplet.tags],
    region: droplet.region,
    size: droplet.size,
    image: findImage(droplet.image)?.slug ?? String(droplet.image),
    userData: droplet.userData,
    sshKeys: [...droplet.sshKeys],
    publicIp: droplet.publicIp,
    privateIp: droplet.privateIp,
    createdAt: droplet.createdAt,
    bootAt: droplet.bootAt,
  };
}

/** Each region's default VPC, a stable UUID. */
export function vpcUuidFor(region: string): string {
  const hex = Buffer.from(region.padEnd(6, '0').slice(0, 6)).toString('hex');
  return `5a4d0000-0000-4000-8000-${hex}`;
}
