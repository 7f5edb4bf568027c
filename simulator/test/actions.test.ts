import { createManualClock } from '@toolbelt/schema/clock';
import { describe, expect, it } from 'vitest';
import { client, dropletBody, simulatorFixture } from './helpers.ts';

const start = simulatorFixture();

async function activeDroplet(bootDelayMs = 1000, actionDurationMs = 5000) {
  const clock = createManualClock();
  const sim = await start({ clock, bootDelayMs, actionDurationMs });
  const api = client(sim);
  const id = (await api.post('/droplets', dropletBody('act-1'))).body.droplet.id as number;
  await clock.advance(bootDelayMs);
  return { clock, sim, api, id };
}

describe('droplet actions', () => {
  it('locks the droplet while an action runs; a second action answers 422', async () => {
    const { clock, api, id } = await activeDroplet();
    const off = await api.post(`/droplets/${id}/actions`, { type: 'power_off' }, { validRequest: true });
    expect(off.status).toBe(201);
    expect(off.body.action).toMatchObject({ type: 'power_off', status: 'in-progress', resource_id: id, completed_at: null });
    expect((await api.get(`/droplets/${id}`)).body.droplet).toMatchObject({ locked: true, status: 'active' });

    const busy = await api.post(`/droplets/${id}/actions`, { type: 'power_on' }, { validRequest: true });
    expect(busy.status).toBe(422);
    expect(busy.body).toMatchObject({ id: 'unprocessable_entity', message: 'Droplet already has a pending event.' });

    await clock.advance(4999);
    expect((await api.get(`/droplets/${id}`)).body.droplet.locked).toBe(true);
    await clock.advance(1);
    expect((await api.get(`/droplets/${id}`)).body.droplet).toMatchObject({ locked: false, status: 'off' });
    const done = await api.get(`/droplets/${id}/actions/${off.body.action.id}`);
    expect(done.body.action.status).toBe('completed');
    expect(done.body.action.completed_at).not.toBeNull();
    expect((await api.get(`/actions/${off.body.action.id}`)).body.action.status).toBe('completed');
  });

  it('honours off and active through power_on, shutdown, power_cycle and reboot', async () => {
    const { clock, api, id } = await activeDroplet(1000, 100);
    const run = async (type: string) => {
      expect((await api.post(`/droplets/${id}/actions`, { type }, { validRequest: true })).status).toBe(201);
      await clock.advance(100);
      return (await api.get(`/droplets/${id}`)).body.droplet.status as string;
    };
    expect(await run('shutdown')).toBe('off');
    expect(await run('power_on')).toBe('active');
    expect(await run('power_off')).toBe('off');
    expect(await run('power_cycle')).toBe('active');
    expect(await run('reboot')).toBe('active');
  });

  it('rebuilds with another image and renames', async () => {
    const { clock, api, id } = await activeDroplet(1000, 100);
    const rebuild = await api.post(`/droplets/${id}/actions`, { type: 'rebuild', image: 'debian-12-x64' }, { validRequest: true });
    expect(rebuild.status).toBe(201);
    await clock.advance(100);
    expect((await api.get(`/droplets/${id}`)).body.droplet.image.slug).toBe('debian-12-x64');
    expect((await api.post(`/droplets/${id}/actions`, { type: 'rename', name: 'act-2' }, { validRequest: true })).status).toBe(201);
    await clock.advance(100);
    expect((await api.get(`/droplets/${id}`)).body.droplet.name).toBe('act-2');
    expect((await api.post(`/droplets/${id}/actions`, { type: 'rebuild', image: 'nope' })).status).toBe(422);
  });

  it('refuses actions on a droplet still being created, unknown types and missing droplets', async () => {
    const clock = createManualClock();
    const sim = await start({ clock, bootDelayMs: 1000 });
    const api = client(sim);
    const id = (await api.post('/droplets', dropletBody('young'))).body.droplet.id;
    const early = await api.post(`/droplets/${id}/actions`, { type: 'reboot' });
    expect(early.status).toBe(422);
    expect(early.body.message).toBe('Droplet already has a pending event.');
    await clock.advance(1000);
    expect((await api.post(`/droplets/${id}/actions`, { type: 'dance' })).body.message).toMatch(/not a valid/);
    expect((await api.post(`/droplets/${id}/actions`, { type: 'snapshot' })).body.message).toMatch(/does not carry out/);
    expect((await api.post(`/droplets/${id}/actions`, {})).status).toBe(422);
    expect((await api.post('/droplets/999/actions', { type: 'reboot' })).status).toBe(404);
  });

  it('lists actions per droplet and account-wide, and scopes action ids to their droplet', async () => {
    const { clock, api, id } = await activeDroplet(1000, 10);
    const other = (await api.post('/droplets', dropletBody('other'))).body.droplet.id;
    const reboot = (await api.post(`/droplets/${id}/actions`, { type: 'reboot' })).body.action.id;
    await clock.advance(10);
    const mine = await api.get(`/droplets/${id}/actions`);
    expect(mine.body.actions.map((a: { type: string }) => a.type)).toEqual(['create', 'reboot']);
    expect(mine.body.meta.total).toBe(2);
    expect((await api.get('/actions')).body.meta.total).toBe(3);
    expect((await api.get(`/droplets/${other}/actions/${reboot}`)).status).toBe(404);
  });

  it('marks a running action errored when its droplet is deleted', async () => {
    const { sim, api, id } = await activeDroplet();
    const action = (await api.post(`/droplets/${id}/actions`, { type: 'power_off' })).body.action.id;
    await api.del(`/droplets/${id}`);
    expect((await api.get(`/actions/${action}`)).body.action.status).toBe('errored');
    expect(sim.state.getAction(action)!.status).toBe('errored');
  });
});
