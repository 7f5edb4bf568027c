import { createManualClock } from '@toolbelt/schema/clock';
import { describe, expect, it } from 'vitest';
import { client, simulatorFixture } from './helpers.ts';

const start = simulatorFixture();

describe('rate limits', () => {
  it('sends ratelimit headers on every answer, including errors', async () => {
    const sim = await start({ rateLimit: { perHour: 5000, perMinute: 250 } });
    const api = client(sim);
    const ok = await api.get('/account');
    expect(ok.headers.get('ratelimit-limit')).toBe('5000');
    expect(ok.headers.get('ratelimit-remaining')).toBe('4999');
    const reset = Number(ok.headers.get('ratelimit-reset'));
    expect(reset).toBeGreaterThan(Math.floor(sim.clock.now() / 1000));
    const missing = await api.get('/droplets/1');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('ratelimit-remaining')).toBe('4998');
    const unauthorized = await api.get('/account', { token: 'dop_v1_wrong_token' });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.body).toEqual({ id: 'Unauthorized', message: 'Unable to authenticate you' });
    expect(unauthorized.headers.get('ratelimit-limit')).toBe('5000');
    expect((await api.get('/account', { token: null })).status).toBe(401);
  });

  it('answers 429 with retry-after when the per-minute limit is hit, per token, until the minute passes', async () => {
    const clock = createManualClock();
    const sim = await start({ clock, rateLimit: { perHour: 100, perMinute: 5 }, extraTokens: ['dop_v1_second_token'] });
    const api = client(sim);
    for (let i = 0; i < 5; i += 1) {
      expect((await api.get('/regions')).status).toBe(200);
      await clock.advance(1000);
    }
    const limited = await api.get('/regions');
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({ id: 'too_many_requests', message: 'API Rate limit exceeded.' });
    expect(limited.headers.get('ratelimit-remaining')).toBe('0');
    // The oldest request of the minute was 5 s ago: it expires in 55 s.
    expect(limited.headers.get('retry-after')).toBe('55');
    expect(sim.stats.rateLimited).toBe(1);

    expect((await api.get('/regions', { token: 'dop_v1_second_token' })).status).toBe(200);
    await clock.advance(54_000);
    expect((await api.get('/regions')).status).toBe(429);
    await clock.advance(1000);
    const again = await api.get('/regions');
    expect(again.status).toBe(200);
    // Refused requests were not counted: 6 taken of 100.
    expect(again.headers.get('ratelimit-remaining')).toBe('94');
  });

  it('answers 429 without retry-after when the hourly limit is spent, until requests expire', async () => {
    const clock = createManualClock();
    const sim = await start({ clock, rateLimit: { perHour: 3, perMinute: 3 } });
    const api = client(sim);
    for (let i = 0; i < 3; i += 1) {
      expect((await api.get('/sizes')).status).toBe(200);
      await clock.advance(10 * 60_000);
    }
    const limited = await api.get('/sizes');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBeNull();
    // The oldest request (30 min ago) expires 60 min after it was made.
    expect(Number(limited.headers.get('ratelimit-reset'))).toBe(Math.floor((clock.now() + 30 * 60_000) / 1000));
    await clock.advance(30 * 60_000);
    expect((await api.get('/sizes')).status).toBe(200);
  });

  it('can be turned off', async () => {
    const sim = await start({ rateLimit: false });
    const reply = await client(sim).get('/account');
    expect(reply.status).toBe(200);
    expect(reply.headers.get('ratelimit-limit')).toBeNull();
  });
});
