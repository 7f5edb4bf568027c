/**
 * The router's contract, without a server: whatever the request target, `match` answers a
 * route or a 4xx refusal and never throws (a throw there once took the process down).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pathOf, Router } from '../../src/http/router.ts';

const ok = () => undefined;
function router(): Router {
  return new Router()
    .on('GET', '/v1/agents', ok)
    .on('GET', '/v1/agents/:id', ok)
    .on('DELETE', '/v1/agents/:id', ok)
    .on('GET', '/v1/packages/:file', ok);
}

const status = (m: ReturnType<Router['match']>) => ('handler' in m ? 200 : m.status);

describe('router', () => {
  it.each([
    ['/v1/agents/%E0%A4%A', 400],
    ['/v1/packages/x%ZZ', 400],
    ['/v1/agents/%C0%80', 400],
    ['http://[::1/v1/agents', 400],
    ['http://[::1', 400],
    ['http://user@host/v1/agents', 400],
    ['http://[::1]:8080/v1/agents', 200],
    ['*', 400],
    ['garbage', 400],
    ['example.com:443', 400],
    ['/v1/agents/%00', 400],
    ['/v1/agents/a%0Ab', 400],
    ['/v1/agents?name=%00', 400],
    ['/v1/agents/x', 200],
    ['/v1/agents/', 200],
    ['http://example.com/v1/agents/x?y=1', 200],
    ['/v1/nothing', 404],
    ['/v1/agents/x/y', 404],
  ])('%s → %i', (target, expected) => {
    expect(status(router().match('GET', target))).toBe(expected);
  });

  it('answers 405 with the methods the path allows', () => {
    expect(router().match('POST', '/v1/agents/x')).toMatchObject({ status: 405, allow: ['GET', 'DELETE'] });
  });

  it('decodes parameters and query values, keeping repeated keys', () => {
    const m = router().match('GET', '/v1/agents/a%20b?tag=1&tag=%E2%82%AC&bad=%ZZ');
    expect(m).toMatchObject({ params: { id: 'a b' }, query: { tag: ['1', '€'], bad: '%ZZ' }, path: '/v1/agents/a%20b' });
  });

  it('keeps a query key named __proto__ as data', () => {
    const m = router().match('GET', '/v1/agents?__proto__=x');
    expect('handler' in m && Object.getPrototypeOf(m.query)).toBe(Object.prototype);
  });

  it('never throws and answers a route or a 4xx, whatever the target (property)', () => {
    const r = router();
    const encoded = fc.oneof(
      fc.string(),
      fc.webUrl({ withQueryParameters: true, withFragments: true }),
      fc.array(fc.oneof(fc.constantFrom('/', '%', '?', '#', ':', '*', '..', 'v1', 'agents', '%E0', '%A4', '%ZZ', '%00', '%2F'), fc.string()), { maxLength: 12 }).map((parts) => parts.join('')),
    );
    fc.assert(
      fc.property(fc.constantFrom('GET', 'POST', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'BREW'), encoded, (method, target) => {
        const s = status(r.match(method, target));
        expect(s === 200 || (s >= 400 && s < 500)).toBe(true);
        expect(() => pathOf(target)).not.toThrow();
      }),
      { numRuns: 2000 },
    );
  });
});
