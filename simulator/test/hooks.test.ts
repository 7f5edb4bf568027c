import { createManualClock, createScaledClock } from '@toolbelt/schema/clock';
import { describe, expect, it } from 'vitest';
import type { DropletInfo } from '../src/index.ts';
import { client, dropletBody, simulatorFixture } from './helpers.ts';

const start = simulatorFixture();

describe('hooks and the state API', () => {
  it('calls onBoot once, when the droplet becomes active, with its user_data and public IP', async () => {
    const clock = createManualClock();
    const booted: DropletInfo[] = [];
    const sim = await start({ clock, bootDelayMs: 2000, actionDurationMs: 10, onBoot: (d) => void booted.push(d) });
    const api = client(sim);
    const userData = '#cloud-config\nruncmd:\n  - echo hello\n';
    const id = (await api.post('/droplets', dropletBody('hooked', { user_data: userData, tags: ['t1'] }))).body.droplet.id;
    await clock.advance(1999);
    expect(booted).toEqual([]);
    await clock.advance(1);
    expect(booted).toHaveLength(1);
    expect(booted[0]).toMatchObject({ id, name: 'hooked', tags: ['t1'], region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64', userData, status: 'active' });
    const publicIp = (await api.get(`/droplets/${id}`)).body.droplet.networks.v4.find((n: { type: string }) => n.type === 'public').ip_address;
    expect(booted[0]!.publicIp).toBe(publicIp);

    await api.post(`/droplets/${id}/actions`, { type: 'power_cycle' });
    await clock.advance(10);
    expect(sim.state.getDroplet(id)!.status).toBe('active');
    expect(booted).toHaveLength(1);
  });

  it('calls onRestart when a power cycle or reboot of an active droplet completes, not for power on', async () => {
    const clock = createManualClock();
    const restarts: string[] = [];
    const sim = await start({ clock, bootDelayMs: 10, actionDurationMs: 10, onRestart: (d, action) => void restarts.push(`${d.id}:${action}:${d.status}`) });
    const api = client(sim);
    const id = (await api.post('/droplets', dropletBody('restarts'))).body.droplet.id;
    await clock.advance(10);
    for (const type of ['power_cycle', 'reboot']) {
      expect((await api.post(`/droplets/${id}/actions`, { type })).status).toBe(201);
      await clock.advance(9);
      expect(restarts, 'not before the action completes').toHaveLength(type === 'reboot' ? 1 : 0);
      await clock.advance(1);
    }
    expect(restarts).toEqual([`${id}:power_cycle:active`, `${id}:reboot:active`]);
    // An off droplet that is power-cycled comes on: that is a status change, not a restart.
    await api.post(`/droplets/${id}/actions`, { type: 'power_off' });
    await clock.advance(10);
    await api.post(`/droplets/${id}/actions`, { type: 'power_cycle' });
    await clock.advance(10);
    expect(sim.state.getDroplet(id)!.status).toBe('active');
    expect(restarts).toHaveLength(2);
  });

  it('runs onBoot from timers on a scaled clock, without anyone polling', async () => {
    let resolveBoot!: (d: DropletInfo) => void;
    const firstBoot = new Promise<DropletInfo>((resolve) => (resolveBoot = resolve));
    const sim = await start({ clock: createScaledClock(1000), bootDelayMs: { minMs: 30_000, maxMs: 60_000 }, onBoot: (d) => resolveBoot(d) });
    const id = (await client(sim).post('/droplets', dropletBody('scaled'))).body.droplet.id;
    const booted = await firstBoot;
    expect(booted.id).toBe(id);
    expect(sim.clock.now()).toBeGreaterThanOrEqual(booted.bootAt);
  });

  it('records hook errors (thrown or rejected) and keeps serving', async () => {
    const clock = createManualClock();
    const sim = await start({
      clock,
      bootDelayMs: 100,
      onBoot: (d) => {
        if (d.name === 'throws') throw new Error('boot plug-in failed');
        return Promise.reject(new Error('async failure'));
      },
      onDelete: () => {
        throw new Error('stop failed');
      },
    });
    const api = client(sim);
    const a = (await api.post('/droplets', dropletBody('throws'))).body.droplet.id;
    const b = (await api.post('/droplets', dropletBody('rejects'))).body.droplet.id;
    await clock.advance(100);
    expect((await api.del(`/droplets/${a}`)).status).toBe(204);
    expect((await api.get(`/droplets/${b}`)).body.droplet.status).toBe('active');
    const errors = sim.state.hookErrors().map((e) => `${e.hook}:${e.dropletId}:${e.error.message}`);
    expect(errors).toEqual([`onBoot:${a}:boot plug-in failed`, `onBoot:${b}:async failure`, `onDelete:${a}:stop failed`]);
  });

  it('gives a droplet the public IPv4 the publicIpv4 hook names, and its own when the hook fails', async () => {
    const clock = createManualClock();
    const asked: string[] = [];
    const sim = await start({
      clock,
      bootDelayMs: 10,
      publicIpv4: ({ id, name }) => {
        asked.push(`${id}:${name}`);
        if (name === 'throws') throw new Error('no address');
        return name === 'garbled' ? 'not-an-address' : '127.0.0.1';
      },
    });
    const api = client(sim);
    const ids = [];
    for (const name of ['here', 'throws', 'garbled']) ids.push((await api.post('/droplets', dropletBody(name))).body.droplet.id as number);
    await clock.advance(10);
    const publicOf = async (id: number) =>
      (await api.get(`/droplets/${id}`)).body.droplet.networks.v4.find((n: { type: string }) => n.type === 'public').ip_address as string;
    expect(asked).toEqual([`${ids[0]}:here`, `${ids[1]}:throws`, `${ids[2]}:garbled`]);
    expect(await publicOf(ids[0]!)).toBe('127.0.0.1');
    // The default: an address of its own in 127.64.0.0/10.
    for (const id of ids.slice(1)) expect(await publicOf(id)).toMatch(/^127\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d+\.\d+$/);
    expect(sim.state.getDroplet(ids[0]!)?.publicIp).toBe('127.0.0.1');
    const errors = sim.state.hookErrors().map((e) => `${e.hook}:${e.dropletId}:${e.error.message}`);
    expect(errors).toEqual([`publicIpv4:${ids[1]}:no address`, expect.stringMatching(new RegExp(`^publicIpv4:${ids[2]}:publicIpv4 answered "not-an-address"`))]);
  });

  it('waits for running hooks on close', async () => {
    let finished = false;
    const sim = await start({
      onDelete: async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        finished = true;
      },
    });
    const id = (await client(sim).post('/droplets', dropletBody('slow-stop'))).body.droplet.id;
    sim.state.vanish(id);
    await sim.close();
    expect(finished).toBe(true);
  });

  it('forces statuses (e.g. a crash to off) and reports them through onStatusChange', async () => {
    const clock = createManualClock();
    const changes: string[] = [];
    const booted: number[] = [];
    const sim = await start({
      clock,
      bootDelayMs: 1000,
      onStatusChange: (d, from) => void changes.push(`${from}->${d.status}`),
      onBoot: (d) => void booted.push(d.id),
    });
    const api = client(sim);
    const id = (await api.post('/droplets', dropletBody('crashy'))).body.droplet.id;
    expect(sim.state.setStatus(id, 'active')).toBe(true);
    expect(booted).toEqual([id]);
    expect(sim.state.setStatus(id, 'off')).toBe(true);
    expect((await api.get(`/droplets/${id}`)).body.droplet.status).toBe('off');
    expect(changes).toEqual(['new->active', 'active->off']);
    expect(sim.state.setStatus(999, 'off')).toBe(false);
    expect(sim.state.listDroplets().map((d) => d.id)).toEqual([id]);
  });
});
