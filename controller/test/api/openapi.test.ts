import { validate, compileErrors } from '@readme/openapi-parser';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openApiPath } from '../../src/api/openapi.ts';
import { startTestApi, type TestApi } from '../support/api.ts';

describeEachDatabase('API: OpenAPI document', (t) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi(t);
  });
  afterAll(() => api.stop());

  it('is a valid OpenAPI 3.1 document', async () => {
    const answer = await api.call('GET', '/v1/openapi.json', { token: null });
    expect(answer.status).toBe(200);
    expect(answer.body.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(answer.body));
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
  });

  it('covers every registered route with its method, parameters and role', async () => {
    const doc = (await api.call('GET', '/v1/openapi.json', { token: null })).body;
    const routes = api.controller.api.registry.routes;
    expect(routes.length).toBeGreaterThanOrEqual(25);
    for (const route of routes) {
      const operation = doc.paths[openApiPath(route.path)]?.[route.method.toLowerCase()];
      expect(operation, `${route.method} ${route.path}`).toBeDefined();
      for (const name of route.path.match(/:(\w+)/g) ?? []) {
        expect(operation.parameters.map((p: { name: string }) => p.name)).toContain(name.slice(1));
      }
      if (route.access === 'public') expect(operation.security).toEqual([]);
      else expect(operation['x-toolbelt-role']).toBe(route.access);
      if (route.body) expect(operation.requestBody.content['application/json'].schema).toBeDefined();
    }
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops as object).map((m) => `${m} ${path}`));
    expect(documented).toHaveLength(routes.length);
  });

  it('documents request bodies with the schemas that validate them', async () => {
    const doc = (await api.call('GET', '/v1/openapi.json', { token: null })).body;
    const schema = doc.paths['/v1/agents'].post.requestBody.content['application/json'].schema;
    const ajv = new Ajv2020({ strict: false });
    const check = ajv.compile(schema);
    const good = { name: 'documented', environment: { active: true, region: 'nyc3' } };
    const bad = { name: 'has space', extra: 1 };
    expect(check(good)).toBe(true);
    expect(check(bad)).toBe(false);
    expect((await api.call('POST', '/v1/agents', { body: good })).status).toBe(201);
    expect((await api.call('POST', '/v1/agents', { body: bad })).status).toBe(400);
  });
});
