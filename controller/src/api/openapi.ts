/**
 * The OpenAPI 3.1 document, generated from the declared routes and the very zod schemas
 * that validate their requests, so the document cannot drift from what the API accepts.
 */
import { z } from 'zod';
import type { AnyRoute, ResponseDoc } from './route.ts';

type JsonObject = Record<string, unknown>;

/** A zod schema as an OpenAPI 3.1 schema object (JSON Schema 2020-12 without `$schema`). */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonObject {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonObject;
  return rest;
}

/** `/v1/agents/:id` → `/v1/agents/{id}`. */
export const openApiPath = (path: string): string => path.replace(/:([A-Za-z_]+)/g, '{$1}');

function parameters(route: AnyRoute): JsonObject[] {
  const out: JsonObject[] = [];
  const add = (schema: z.ZodType | undefined, where: 'path' | 'query') => {
    if (!schema) return;
    const object = jsonSchema(schema, 'input') as { properties?: Record<string, JsonObject>; required?: string[] };
    for (const [name, property] of Object.entries(object.properties ?? {})) {
      const { description, ...rest } = property;
      out.push({
        name,
        in: where,
        required: where === 'path' || (object.required ?? []).includes(name),
        ...(description ? { description } : {}),
        schema: rest,
      });
    }
  };
  add(route.params, 'path');
  add(route.query, 'query');
  if (route.ifMatch) {
    out.push({
      name: 'If-Match',
      in: 'header',
      required: false,
      description: 'the ETag of your last read; a stale one is refused with 409',
      schema: { type: 'string' },
    });
  }
  return out;
}

function requestBody(route: AnyRoute): JsonObject | undefined {
  if (!route.body) return undefined;
  const schema = jsonSchema(route.body, 'input');
  const content: JsonObject = { 'application/json': { schema } };
  if (route.yamlBody) content['application/yaml'] = { schema: { type: 'string', description: 'a YAML document stream' } };
  return { required: true, content };
}

function response(doc: ResponseDoc, withEtag: boolean): JsonObject {
  const out: JsonObject = { description: doc.description };
  if (doc.schema) out.content = { [doc.contentType ?? 'application/json']: { schema: jsonSchema(doc.schema, 'output') } };
  else if (doc.contentType) out.content = { [doc.contentType]: { schema: { type: 'string' } } };
  if (withEtag) out.headers = { ETag: { description: 'send it back in If-Match to guard a write', schema: { type: 'string' } } };
  return out;
}

function operation(route: AnyRoute): JsonObject {
  const params = parameters(route);
  const body = requestBody(route);
  return {
    operationId: `${route.method.toLowerCase()}${openApiPath(route.path).replace(/[{}]/g, '').replace(/(^|[/_-])(\w)/g, (_m, _s, c: string) => c.toUpperCase())}`,
    summary: route.summary,
    tags: [route.tag],
    security: route.access === 'public' ? [] : [{ bearerAuth: [] }],
    ...(route.access === 'public' ? {} : { 'x-toolbelt-role': route.access }),
    ...(params.length ? { parameters: params } : {}),
    ...(body ? { requestBody: body } : {}),
    responses: Object.fromEntries(
      Object.entries(route.responses).map(([status, doc]) => [status, response(doc, Number(status) < 300 && route.method !== 'DELETE')]),
    ),
  };
}

/** The OpenAPI document of `routes`. */
export function buildOpenApi(routes: readonly AnyRoute[], info: { version: string }): JsonObject {
  const paths: Record<string, Record<string, JsonObject>> = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'toolbelt API',
      version: info.version,
      description:
        'Declare what each agent should have; the controller makes it so. Errors share one body: ' +
        '{ error: { code, message, hint?, details?: [{ path, message }] } }.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'an API token (viewer, operator or admin)' } },
    },
    security: [{ bearerAuth: [] }],
    paths,
  };
}
