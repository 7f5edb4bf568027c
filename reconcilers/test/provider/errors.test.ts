import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { failureFacts, headerValue, readRateLimitHeaders } from '../../src/provider/answers.ts';
import { ProviderError, classifyFailure, isProviderError, mayHaveActed } from '../../src/provider/errors.ts';

/** The shape axios gives a failed answer (what dots-wrapper throws). */
function answered(status: number, data: unknown, headers: Record<string, string> = {}) {
  return { isAxiosError: true, code: status >= 500 ? 'ERR_BAD_RESPONSE' : 'ERR_BAD_REQUEST', message: `Request failed with status code ${status}`, response: { status, data, headers } };
}
const network = (code: string, message: string) => ({ isAxiosError: true, code, message });
const NOW = 1_700_000_000_000;

describe('failure facts and their classification', () => {
  it.each([
    [401, { id: 'unauthorized', message: 'Unable to authenticate you' }, 'auth'],
    [403, { id: 'forbidden', message: 'You do not have access for the attempted action.' }, 'auth'],
    [404, { id: 'not_found', message: 'The resource you were accessing could not be found.' }, 'not_found'],
    [429, { id: 'too_many_requests', message: 'API Rate limit exceeded.' }, 'rate_limited'],
    [422, { id: 'unprocessable_entity', message: 'You specified an invalid size for Droplet creation.' }, 'validation'],
    [400, { id: 'bad_request', message: 'invalid tag name' }, 'validation'],
    [422, { id: 'unprocessable_entity', message: 'creating this/these droplet(s) will exceed your droplet limit' }, 'quota'],
    [403, { id: 'forbidden', message: 'You have reached your droplet limit' }, 'quota'],
    [422, { id: 'unprocessable_entity', message: 'Droplet already has a pending event.' }, 'conflict'],
    [409, { id: 'conflict', message: 'conflict' }, 'conflict'],
    [500, { id: 'server_error', message: 'Server Error' }, 'transient'],
    [503, 'upstream connect error', 'transient'],
    [302, '', 'unexpected'],
  ] as const)('%i %j → %s', (status, body, kind) => {
    expect(classifyFailure(failureFacts(answered(status, body), NOW))).toBe(kind);
  });

  it('keeps DigitalOcean’s id, message and request_id (body first, then x-request-id)', () => {
    const body = { id: 'not_found', message: 'The resource you were accessing could not be found.', request_id: 'abc-123' };
    expect(failureFacts(answered(404, body), NOW)).toEqual({ status: 404, id: 'not_found', message: body.message, requestId: 'abc-123' });
    const fromHeader = failureFacts(answered(500, { id: 'server_error', message: 'boom' }, { 'x-request-id': 'hdr-9' }), NOW);
    expect(fromHeader.requestId).toBe('hdr-9');
  });

  it('reads retry-after and the reset of a 429', () => {
    const facts = failureFacts(answered(429, { id: 'too_many_requests', message: 'API Rate limit exceeded.' }, { 'retry-after': '29', 'ratelimit-reset': '1700000600' }), NOW);
    expect(facts).toMatchObject({ retryAfterS: 29, resetAtS: 1_700_000_600 });
  });

  it.each([
    ['ECONNRESET', 'socket hang up', false],
    ['ECONNABORTED', 'timeout of 100ms exceeded', true],
    ['ETIMEDOUT', 'timeout', true],
    ['ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1', false],
  ])('network failure %s is transient (timed out: %s)', (code, message, timedOut) => {
    const facts = failureFacts(network(code, message), NOW);
    expect(facts.networkCode).toBe(code);
    expect(Boolean(facts.timedOut)).toBe(timedOut);
    expect(classifyFailure(facts)).toBe('transient');
  });

  it('says whether DigitalOcean may have acted', () => {
    expect(mayHaveActed({ status: 500, message: '' })).toBe(true);
    expect(mayHaveActed({ status: 429, message: '' })).toBe(false);
    expect(mayHaveActed({ status: 422, message: '' })).toBe(false);
    expect(mayHaveActed({ networkCode: 'ECONNRESET', message: '' })).toBe(true);
    expect(mayHaveActed({ networkCode: 'ECONNABORTED', timedOut: true, message: '' })).toBe(true);
    expect(mayHaveActed({ networkCode: 'ECONNREFUSED', message: '' })).toBe(false);
  });

  it('builds an error with code, hint and request id, and no axios object inside', () => {
    const facts = failureFacts({ ...answered(401, { id: 'unauthorized', message: 'Unable to authenticate you', request_id: 'r-1' }), config: { headers: { Authorization: 'Bearer secret-token' } } }, NOW);
    const error = new ProviderError({ kind: classifyFailure(facts), endpoint: 'GET /v2/account', facts, attempts: 1 });
    expect(error.code).toBe('DO_ERR_AUTH');
    expect(error.message).toContain('Unable to authenticate you');
    expect(error.message).toContain('r-1');
    expect(error.hint).toMatch(/DIGITALOCEAN_TOKEN/);
    expect(isProviderError(error, 'auth')).toBe(true);
    expect(isProviderError(error, 'transient')).toBe(false);
    expect(inspect(error, { depth: 10 })).not.toContain('secret-token');
  });
});

describe('rate-limit headers', () => {
  it('reads them case-insensitively from plain objects and AxiosHeaders-like bags', () => {
    expect(readRateLimitHeaders({ 'RateLimit-Limit': '5000', 'ratelimit-remaining': '4999', 'rateLimit-reset': '1402425459' }, NOW)).toEqual({
      limit: 5000,
      remaining: 4999,
      resetAtS: 1402425459,
    });
    const bag = { get: (name: string) => (name === 'retry-after' ? '7' : undefined) };
    expect(readRateLimitHeaders(bag, NOW)).toEqual({ retryAfterS: 7 });
    expect(headerValue(undefined, 'x')).toBeUndefined();
  });

  it('takes retry-after as an HTTP date too, and ignores garbage', () => {
    const date = new Date(NOW + 30_000).toUTCString();
    expect(readRateLimitHeaders({ 'retry-after': date }, NOW).retryAfterS).toBe(30);
    expect(readRateLimitHeaders({ 'ratelimit-remaining': 'lots', 'ratelimit-limit': '-3' }, NOW)).toEqual({});
  });
});
