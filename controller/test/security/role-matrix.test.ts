/**
 * The role matrix, generated: every write route of the registry × every role, and `apply`
 * × every manifest kind × every role × prune on and off. What each role may write is stated
 * here, independently of the code (EXPECTED_*); a refused call answers 403 and changes
 * nothing in the database. A new route or manifest kind is in the matrix by construction
 * (a new kind does not compile until it has a row here).
 */
import { type ApiRole, type ManifestKind, MANIFEST_KINDS, rowsOf } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { sql } from 'drizzle-orm';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectKind } from '../../src/api/authz.ts';
import { ApiRegistry } from '../../src/api/registry.ts';
import { defineRoute } from '../../src/api/route.ts';
import { echoCatalogTool, localSecretStore, resetSpecTables, startTestApi, type TestApi } from '../support/api.ts';

/** Who may write each kind of object: the policy, written down once more by hand. */
const EXPECTED_WRITER: Record<ObjectKind, ApiRole> = {
  Agent: 'operator',
  Environment: 'operator',
  Tool: 'operator',
  Secret: 'operator',
  CatalogTool: 'admin',
  ApiToken: 'admin',
  CallerToken: 'operator',
};
/** Who may apply (and prune) each manifest kind. */
const EXPECTED_APPLIER: Record<ManifestKind, ApiRole> = { Agent: 'operator', CatalogTool: 'admin', Toolbelt: 'operator' };
const SAMPLE: Record<ManifestKind, unknown> = {
  Agent: { kind: 'Agent', metadata: { name: 'applied' }, spec: { environment: { active: false } } },
  // The attack that was found: point a catalog entry every droplet installs at another package.
  CatalogTool: { kind: 'CatalogTool', metadata: { name: 'echo' }, spec: { ...echoCatalogTool, tool_name: undefined, package_identifier: 'evil-package' } },
  Toolbelt: { kind: 'Toolbelt', metadata: { name: 'owned' }, spec: { tools: [] } },
};
type CallShape = { body?: unknown; rawBody?: string; headers?: Record<string, string> };
const ROLES: ApiRole[] = ['viewer', 'operator', 'admin'];
const RANK: Record<ApiRole, number> = { caller: 0, viewer: 1, operator: 2, admin: 3 };
const atLeast = (roles: ApiRole[]) => roles.reduce<ApiRole>((a, b) => (RANK[b] > RANK[a] ? b : a), 'viewer');

/** Every row a write could touch (api_tokens without last_used_at, which reads update). */
async function snapshot(db: TestApi['controller']['database']['db']): Promise<string> {
  const queries = ['agents', 'agent_droplets', 'agent_droplet_tools', 'tool_catalog', 'secrets', 'events'].map((t) => `select * from ${t} order by 1`);
  queries.push('select id, name, role, revoked_at from api_tokens order by 1');
  return JSON.stringify(await Promise.all(queries.map(async (q) => rowsOf(await db.execute(sql.raw(q))))));
}

describeEachDatabase('authorization: the role matrix', (t) => {
  let api: TestApi;
  const tokens = {} as Record<ApiRole, string>;
  let toolId: string;
  beforeAll(async () => {
    api = await startTestApi(t, { secrets: localSecretStore(t.db) });
    tokens.admin = api.adminToken;
    tokens.operator = await api.token('operator');
    tokens.viewer = await api.token('viewer');
    await seed();
  });
  afterAll(async () => api?.stop());

  /** The objects the write paths aim at (allowed calls may have deleted them). */
  async function seed() {
    await resetSpecTables(t.db);
    await api.call('POST', '/v1/catalog', { body: echoCatalogTool });
    await api.call('POST', '/v1/agents', { body: { name: 'owned', environment: { active: false } } });
    await api.call('PUT', '/v1/agents/owned/secrets/k', { body: { value: 'v' } });
    toolId = (await api.call('POST', '/v1/agents/owned/tools', { body: { tool_name: 'echo', secret_refs: { OPENAI_API_KEY: 'k' } } })).body.id;
  }

  const pathFor = (pattern: string) =>
    pattern
      .replace(/^\/v1\/catalog\/:id/, '/v1/catalog/echo')
      .replace(/^\/v1\/tokens\/:id/, `/v1/tokens/${toolId}`)
      .replace(':id', 'owned')
      .replace(':tool', toolId)
      .replace(':name', 'k');

  /** Calls as `role`; a refusal must be a 403 that changed nothing. Returns whether it was refused. */
  async function expectDecision(role: ApiRole, allowed: boolean, call: { method: string; path: string; allowedStatus?: number } & CallShape) {
    const { method, path, allowedStatus, ...options } = call;
    const before = await snapshot(t.db);
    const answer = await api.call(method, path, { ...options, token: tokens[role] });
    const label = `${role} ${method} ${path} ${JSON.stringify(options.body ?? options.rawBody ?? '').slice(0, 120)}`;
    if (allowed) {
      expect([401, 403], `${label} → ${JSON.stringify(answer.body)}`).not.toContain(answer.status);
      if (allowedStatus !== undefined) expect(answer.status, `${label} → ${JSON.stringify(answer.body)}`).toBe(allowedStatus);
      return;
    }
    expect(answer.status, `${label} → ${JSON.stringify(answer.body)}`).toBe(403);
    expect(answer.body.error.code).toBe('FORBIDDEN');
    expect(await snapshot(t.db), `${label} changed the database`).toBe(before);
  }

  it('every write route declares what it writes, and each role is held to it', async () => {
    const writes = api.controller.api.registry.routes.filter((r) => r.method !== 'GET');
    expect(writes.length).toBeGreaterThanOrEqual(15);
    for (const route of writes) {
      const label = `${route.method} ${route.path}`;
      expect(route.writes, `${label} declares no writes`).toBeDefined();
      if (typeof route.writes === 'function') {
        // Decided per document (apply) or per role asked for (tokens); exercised below.
        expect(['/v1/apply', '/v1/tokens'], `${label} decides per request: add it to this matrix`).toContain(route.path);
        continue;
      }
      const needed = atLeast([...route.writes!.map((k) => EXPECTED_WRITER[k]), route.access === 'public' ? 'viewer' : route.access]);
      expect((await api.call(route.method, pathFor(route.path), { token: null })).status, label).toBe(401);
      // Refusals first: an allowed call may delete what later calls aim at.
      for (const role of ROLES) await expectDecision(role, RANK[role] >= RANK[needed], { method: route.method, path: pathFor(route.path), body: {} });
    }
  });

  it('apply and prune: every manifest kind × every role, JSON and YAML', async () => {
    expect(Object.keys(SAMPLE).sort()).toEqual([...MANIFEST_KINDS].sort());
    await seed();
    for (const kind of MANIFEST_KINDS) {
      for (const role of ROLES) {
        const allowed = RANK[role] >= RANK[EXPECTED_APPLIER[kind]];
        for (const prune of [false, true]) {
          // A refused set is sent for real (a missing check would write); an allowed one as a dry run.
          const body = { documents: [SAMPLE[kind]], prune, dryRun: allowed };
          await expectDecision(role, allowed, { method: 'POST', path: '/v1/apply', body, allowedStatus: 200 });
        }
        const yaml = stringify(SAMPLE[kind]);
        await expectDecision(role, allowed, { method: 'POST', path: `/v1/apply?prune=true&dryRun=${allowed}`, rawBody: yaml, headers: { 'content-type': 'application/yaml' }, allowedStatus: 200 });
      }
    }
  });

  it('tokens: only admins create tokens of a role, operators also caller tokens bound to an agent', async () => {
    await seed();
    for (const role of ROLES) {
      const caller = { method: 'POST', path: '/v1/tokens', body: { name: `c-${role}`, role: 'caller', agent: 'owned' }, allowedStatus: 201 };
      await expectDecision(role, RANK[role] >= RANK.operator, caller);
      for (const asked of ROLES) {
        await expectDecision(role, role === 'admin', { method: 'POST', path: '/v1/tokens', body: { name: `t-${role}-${asked}`, role: asked }, allowedStatus: 201 });
      }
    }
    const unbound = await api.call('POST', '/v1/tokens', { body: { name: 'x', role: 'caller' } });
    expect([unbound.status, unbound.body.error.details[0].path]).toEqual([400, 'agent']);
  });

  it('a set mixing kinds is refused whole when one kind is not the caller’s', async () => {
    await seed();
    await expectDecision('operator', false, { method: 'POST', path: '/v1/apply', body: { documents: [SAMPLE.Agent, SAMPLE.Toolbelt, SAMPLE.CatalogTool], prune: true } });
    const answer = await api.call('POST', '/v1/apply', { token: tokens.operator, body: { documents: [SAMPLE.CatalogTool] } });
    expect(answer.body.error.message).toMatch(/has role operator; writing CatalogTool objects needs admin/);
  });
});

describe('registering a route', () => {
  it('refuses one whose access is looser than what it writes', () => {
    const route = defineRoute({ method: 'POST', path: '/v1/x', summary: 'x', tag: 'x', access: 'operator', writes: ['CatalogTool'], responses: {}, handle: () => ({ status: 204 }) });
    expect(() => new ApiRegistry().add(route)).toThrow(/writes CatalogTool with access operator; it needs admin/);
  });
});
