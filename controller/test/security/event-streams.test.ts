/**
 * Event streams share one source and are capped: per API token and in all, a stream beyond
 * the cap answers 429 with Retry-After, a closed stream frees its place, and every open
 * stream still gets its own (filtered) events from the one feed.
 */
import { recordEvent } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../support/api.ts';

describeEachDatabase('API: event stream caps and fan-out', (t) => {
  let api: TestApi;
  const open: AbortController[] = [];
  beforeAll(async () => {
    api = await startTestApi(t, { eventStreams: { max: 5, perToken: 3 } });
  });
  afterAll(async () => {
    open.forEach((c) => c.abort());
    await api?.stop();
  });

  async function follow(token: string, object: string) {
    const controller = new AbortController();
    const response = await fetch(`${api.url}/v1/events/stream?object=${object}`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
    if (response.status === 200) open.push(controller);
    return { response, controller };
  }

  /** Reads `data:` frames until one has `reason`. */
  async function waitFor(response: Response, reason: string): Promise<{ reason: string; object: { id: string } }> {
    const reader = response.body!.getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('the stream ended');
      buffer += new TextDecoder().decode(value);
      for (const frame of buffer.split('\n\n')) {
        const data = frame.split('\n').find((l) => l.startsWith('data: '));
        const event = data && JSON.parse(data.slice(6));
        if (event?.reason === reason) return event;
      }
    }
  }

  it('caps streams per token and in all with 429 + Retry-After, and frees a closed stream’s place', async () => {
    const viewer = await api.token('viewer');
    const other = await api.token('viewer');
    const mine = await Promise.all([1, 2, 3].map((i) => follow(viewer, `environment/e${i}`)));
    expect(mine.map((s) => s.response.status)).toEqual([200, 200, 200]);
    const fourth = await follow(viewer, 'environment/e4');
    expect(fourth.response.status).toBe(429);
    expect(fourth.response.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await fourth.response.json()) as { error: { code: string } }).error.code).toBe('TOO_MANY_STREAMS');

    const theirs = await Promise.all([5, 6].map((i) => follow(other, `environment/e${i}`)));
    expect(theirs.map((s) => s.response.status)).toEqual([200, 200]);
    const beyond = await follow(await api.token('viewer'), 'environment/e7');
    expect(beyond.response.status, 'the overall cap').toBe(429);
    expect(api.controller.api.events.open).toBe(5);

    // Every open stream gets its own events from the one feed, and only those.
    await recordEvent(t.db, { type: 'Normal', reason: 'Noise', message: 'not for anyone', object: { kind: 'environment', id: 'nobody' } });
    for (const i of [1, 2, 3, 5, 6]) await recordEvent(t.db, { type: 'Normal', reason: 'Mine', message: `for e${i}`, object: { kind: 'environment', id: `e${i}` } });
    const got = await Promise.all([...mine, ...theirs].map((s) => waitFor(s.response, 'Mine')));
    expect(got.map((e) => e.object.id)).toEqual(['e1', 'e2', 'e3', 'e5', 'e6']);

    mine[0]!.controller.abort();
    let again: Awaited<ReturnType<typeof follow>> | undefined;
    for (let i = 0; i < 100 && again?.response.status !== 200; i += 1) {
      await new Promise((r) => setTimeout(r, 50));
      again = await follow(viewer, 'environment/e1');
    }
    expect(again!.response.status, 'a closed stream frees its place').toBe(200);
  });
});
