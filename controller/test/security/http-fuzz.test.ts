/**
 * The HTTP attack suite: a property-based fuzzer over every registered route and method
 * with malformed paths, percent-encodings, query strings, headers, content types, bodies
 * and sizes, sent over raw sockets; and raw request targets of every form. It holds, for
 * every request: an answer below 500 (or a clean close), no secret or token in it, and an
 * unchanged database after every refusal; and at the end: /readyz answers, nothing was
 * logged at error level, and no secret value is in any log line, event or column.
 */
import { rowsOf } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { echoCatalogTool, localSecretStore, resetSpecTables, startTestApi, type TestApi } from '../support/api.ts';
import { rawRequest } from './raw-http.ts';

const SECRET = 'sk-fuzz-9c2e4b7a1d3f5e6a';
const TABLES = ['agents', 'agent_droplets', 'agent_droplet_tools', 'tool_catalog', 'secrets', 'events'];

/** A path segment as an attacker writes it: names, encodings valid and broken, traversal, huge. */
const segment = fc.oneof(
  fc.constantFrom('owned', 'echo', 'k', '%00', '%E0%A4%A', 'x%ZZ', '%C0%80', '%ED%A0%80', '..', '%2e%2e%2f', '%2F', '%25', '*', ':id', '__proto__', 'constructor'),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
  fc.string({ unit: 'binary', maxLength: 20 }).map((s) => encodeURIComponent(s).replace(/%[0-9A-F]{2}$/, '%')),
  fc.integer({ min: 100, max: 3000 }).map((n) => 'a'.repeat(n)),
);
const query = fc.oneof(
  fc.constant(''),
  fc.constantFrom('?limit=-1', '?limit=1e309', '?after=%00', '?dryRun=maybe', '?object=a&object=b&object=c', '?kind=%E0', '?__proto__[x]=1', '?since=not-a-date', '?a=%ZZ'),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 16 }), { maxKeys: 4 }).map((d) => `?${new URLSearchParams(d)}`),
);
const contentType = fc.constantFrom(undefined, 'application/json', 'application/yaml', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/merge-patch+json', '%%%');
const body = fc.oneof(
  fc.constant(''),
  fc.json({ maxDepth: 4 }),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('{"name":"a\\u0000b"}', '{"documents":[{"kind":"CatalogTool","metadata":{"name":"echo"},"spec":{}}]}', 'a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b]', '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]', '{"value":"x","__proto__":{"admin":true}}'),
  fc.integer({ min: 1, max: 300_000 }).map((n) => `"${'x'.repeat(n)}"`),
);
const method = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE');

describeEachDatabase('HTTP attack suite', (t) => {
  let api: TestApi;
  let port: number;
  let tokens: string[];
  beforeAll(async () => {
    api = await startTestApi(t, { secrets: localSecretStore(t.db) });
    port = Number(new URL(api.url).port);
    await resetSpecTables(t.db);
    await api.call('POST', '/v1/catalog', { body: echoCatalogTool });
    await api.call('POST', '/v1/agents', { body: { name: 'owned', environment: { active: false } } });
    await api.call('PUT', '/v1/agents/owned/secrets/k', { body: { value: SECRET } });
    await api.call('POST', '/v1/agents/owned/tools', { body: { tool_name: 'echo', secret_refs: { OPENAI_API_KEY: 'k' } } });
    tokens = [await api.token('viewer'), await api.token('operator')];
  });
  afterAll(async () => api?.stop());

  const snapshot = async () => JSON.stringify(await Promise.all(TABLES.map(async (q) => rowsOf(await t.db.execute(sql.raw(`select * from ${q} order by 1`))))));
  const secretsIn = (text: string) => [SECRET, api.adminToken, ...tokens].filter((s) => text.includes(s));

  it('every route × method × malformed input: below 500, nothing leaked, nothing changed by a refusal', async () => {
    const patterns = api.controller.api.registry.routes.filter((r) => !r.path.endsWith('/stream')).map((r) => r.path);
    const request = fc.record({
      pattern: fc.constantFrom(...patterns),
      segments: fc.array(segment, { minLength: 3, maxLength: 3 }),
      method,
      query,
      contentType,
      body,
      auth: fc.constantFrom('none', 'garbage', 'viewer', 'operator', 'basic', 'huge'),
    });
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        let i = 0;
        const path = r.pattern.replace(/:[a-z]+/g, () => r.segments[i++]!) + r.query;
        const authorization = { none: undefined, garbage: 'Bearer tb_garbage', viewer: `Bearer ${tokens[0]}`, operator: `Bearer ${tokens[1]}`, basic: 'Basic YTpi', huge: `Bearer ${'t'.repeat(8000)}` }[r.auth];
        const bodyBytes = Buffer.byteLength(r.body);
        const head = [`${r.method} ${path} HTTP/1.1`, 'Host: x', ...(authorization ? [`Authorization: ${authorization}`] : []), ...(r.contentType ? [`Content-Type: ${r.contentType}`] : []), `Content-Length: ${bodyBytes}`];
        const before = r.method === 'GET' ? undefined : await snapshot();
        const answer = await rawRequest(port, head, r.body);
        const label = `${head[0]} (${r.auth}, ${r.contentType}, ${bodyBytes} bytes) → ${answer.text.slice(0, 300)}`;
        if (answer.status !== undefined) expect(answer.status, label).toBeLessThan(500);
        expect(secretsIn(answer.text), label).toEqual([]);
        if (before !== undefined && answer.status !== undefined && answer.status >= 400) expect(await snapshot(), `${label} changed the database`).toBe(before);
      }),
      { numRuns: 250 },
    );
  });

  it('raw request targets of every form: 4xx, a route, or a clean close', async () => {
    const target = fc.oneof(
      fc.string({ maxLength: 60 }).filter((s) => !/[\s]/.test(s) && s.length > 0),
      fc.webUrl({ withQueryParameters: true }).map((u) => u.replace(/^https?:\/\/[^/]*/, (h) => h.replace(/\]/, ''))),
      fc.constantFrom('*', 'example.com:443', 'http://[::1', 'http://user@host/v1/agents', 'http://%00/v1/agents', '/agent/v1%ZZ', '//v1//agents//', '/v1/agents/%E0%A4%A?x=%ZZ'),
      fc.array(segment, { minLength: 1, maxLength: 5 }).map((parts) => `/${parts.join('/')}`),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'OPTIONS', 'CONNECT', 'POST'), target, fc.boolean(), async (m, tgt, upgrade) => {
        const head = [`${m} ${tgt} HTTP/1.1`, 'Host: x', `Authorization: Bearer ${tokens[0]}`, ...(upgrade ? ['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='] : [])];
        const answer = await rawRequest(port, head);
        if (answer.status !== undefined) expect(answer.status, `${head[0]} → ${answer.text.slice(0, 200)}`).toBeLessThan(500);
        expect(secretsIn(answer.text)).toEqual([]);
      }),
      { numRuns: 250 },
    );
  });

  it('afterwards: ready, no error logged, no secret in any log line, event or column', async () => {
    expect((await fetch(`${api.url}/readyz`)).status).toBe(200);
    const errors = api.logs.filter((l) => (JSON.parse(l) as { level: number }).level >= 50);
    expect(errors).toEqual([]);
    expect(secretsIn(api.logs.join('\n'))).toEqual([]);
    const tables = rowsOf<{ table_name: string }>(await t.db.execute(sql`select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`));
    expect(tables.length).toBeGreaterThan(5);
    for (const { table_name } of tables) {
      const rows = rowsOf(await t.db.execute(sql.raw(`select * from "${table_name}"`)));
      const text = JSON.stringify(rows, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v));
      expect(secretsIn(text), table_name).toEqual([]);
    }
  });
});
