import { recordEvent } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { resetSpecTables, startTestApi, type TestApi } from '../support/api.ts';

/** Reads a Server-Sent Events stream, collecting each `data:` as JSON. */
async function readEvents(response: Response, until: (events: { id: number; count: number; reason: string }[]) => boolean) {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const events: { id: number; count: number; reason: string }[] = [];
  let buffer = '';
  while (!until(events)) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    const frames = buffer.split('\n\n');
    buffer = frames.pop()!;
    for (const frame of frames) {
      const data = frame.split('\n').find((l) => l.startsWith('data: '));
      if (data) events.push(JSON.parse(data.slice(6)));
    }
  }
  await reader.cancel();
  return events;
}

describeEachDatabase('API: events', (t) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi(t);
  });
  afterAll(() => api.stop());
  beforeEach(() => resetSpecTables(t.db));

  it('lists events newest first, filtered by object', async () => {
    await recordEvent(t.db, { type: 'Normal', reason: 'Creating', message: 'creating droplet', object: { kind: 'environment', id: 'a1' }, at: new Date(1000) });
    await recordEvent(t.db, { type: 'Warning', reason: 'Slow', message: 'slow', object: { kind: 'environment', id: 'a1' }, at: new Date(2000) });
    await recordEvent(t.db, { type: 'Normal', reason: 'Other', message: 'other', object: { kind: 'tool', id: 't1' }, at: new Date(3000) });
    const all = await api.call('GET', '/v1/events');
    expect(all.body.items.map((e: { reason: string }) => e.reason)).toEqual(['Other', 'Slow', 'Creating']);
    const one = await api.call('GET', '/v1/events?object=environment/a1');
    expect(one.body.items.map((e: { reason: string }) => e.reason)).toEqual(['Slow', 'Creating']);
    expect(one.body.items[0]).toMatchObject({ type: 'Warning', object: { kind: 'environment', id: 'a1' }, count: 1 });
    const two = await api.call('GET', '/v1/events?object=a1&object=t1&limit=2');
    expect(two.body.items.map((e: { reason: string }) => e.reason)).toEqual(['Other', 'Slow']);
    const rest = await api.call('GET', `/v1/events?object=a1&object=t1&limit=2&before=${two.body.next}`);
    expect(rest.body.items.map((e: { reason: string }) => e.reason)).toEqual(['Creating']);
    expect(rest.body.next).toBeNull();
    const bad = await api.call('GET', '/v1/events?object=environment/a1&object=tool/t1');
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe('query.object');
  });

  it('streams new and repeated events over Server-Sent Events', async () => {
    const controller = new AbortController();
    const response = await fetch(`${api.url}/v1/events/stream?object=environment/live`, {
      headers: { authorization: `Bearer ${api.adminToken}` },
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    let done = false;
    const reading = readEvents(response, (events) => events.length >= 3).finally(() => (done = true));
    const event = { type: 'Normal' as const, reason: 'Provisioning', message: 'waiting', object: { kind: 'environment', id: 'live' } };
    await recordEvent(t.db, { ...event, object: { kind: 'environment', id: 'someone-else' } });
    await recordEvent(t.db, event);
    await recordEvent(t.db, { ...event, reason: 'Ready', message: 'ready' });
    // The stream must show the first one again once it folds (count 2); write it until it shows.
    const folded = (async () => {
      for (let i = 0; i < 200 && !done; i += 1) {
        await new Promise((r) => setTimeout(r, 60));
        await recordEvent(t.db, { ...event, at: new Date(Date.now() + 1000 + i) });
      }
    })();
    const events = await reading;
    await folded;
    controller.abort();
    expect(events[0]).toMatchObject({ reason: 'Provisioning', count: 1 });
    expect(events[1]).toMatchObject({ reason: 'Ready' });
    expect(events[2]).toMatchObject({ reason: 'Provisioning', id: events[0]!.id });
    expect(events[2]!.count).toBeGreaterThan(1);
  });
});
