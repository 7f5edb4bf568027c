/**
 * Mounts declared routes on the HTTP router: authenticate, validate params, query and body
 * with the route's zod schemas (400 with one entry per bad field), run the handler, and send
 * its reply with its ETag. An ApiError anywhere becomes its status and the error body, a
 * database refusal of a value a 400 (`callerFault`); any other error reaches the server's
 * 500 handler.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { type Router, sendError, sendJson } from '../http/router.ts';
import type { Authenticator } from './auth.ts';
import { authorizeWrites, checkRouteAccess } from './authz.ts';
import { readBody } from './body.ts';
import { callerFault, invalid, zodProblems } from './errors.ts';
import type { AnyRoute, Reply } from './route.ts';

const DEFAULT_MAX_BODY = 1024 * 1024;

function parsePart(schema: z.ZodType | undefined, value: unknown, where: string): unknown {
  if (!schema) return value;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const prefix = where === 'body' ? [] : [where];
  throw invalid(zodProblems(result.error, prefix));
}

/** The If-Match value without quotes or weak prefix; `*` counts as absent. */
export function parseIfMatch(req: IncomingMessage): string | undefined {
  const raw = req.headers['if-match'];
  if (raw === undefined || raw.trim() === '*') return undefined;
  return raw.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

function sendReply(res: ServerResponse, reply: Reply): void {
  if (reply.etag !== undefined) res.setHeader('etag', `"${reply.etag}"`);
  if (reply.text) {
    res.writeHead(reply.status, { 'content-type': reply.text.contentType });
    res.end(reply.text.value);
  } else if (reply.body === undefined) {
    res.writeHead(reply.status).end();
  } else {
    sendJson(res, reply.status, reply.body);
  }
}

async function readRouteBody(route: AnyRoute, req: IncomingMessage): Promise<unknown> {
  if (!route.body) return undefined;
  const raw = await readBody(req, { maxBytes: route.maxBodyBytes ?? DEFAULT_MAX_BODY, allowYaml: route.yamlBody === true });
  if (raw === undefined) throw invalid([{ path: '(body)', message: 'a JSON body is required' }]);
  return raw;
}

/** The declared routes of the API, mounted on a router and described by OpenAPI. */
export class ApiRegistry {
  readonly routes: AnyRoute[] = [];

  /** Adds routes; throws when one's access is looser than what it writes (authz.ts). */
  add(...routes: AnyRoute[]): this {
    routes.forEach(checkRouteAccess);
    this.routes.push(...routes);
    return this;
  }

  /** Registers every route on `router`. */
  mount(router: Router, authenticator: Authenticator): void {
    for (const route of this.routes) {
      router.on(route.method, route.path, async ({ req, res, params, query }) => {
        try {
          const caller = await authenticator.authenticate(req, route.access, { agentCaller: route.agentCaller === true });
          const ctx = {
            params: parsePart(route.params, params, 'params'),
            query: parsePart(route.query, query, 'query'),
            body: parsePart(route.body, await readRouteBody(route, req), 'body'),
            caller,
            ifMatch: parseIfMatch(req),
            req,
            res,
          };
          authorizeWrites(caller, typeof route.writes === 'function' ? route.writes(ctx) : (route.writes ?? []));
          const reply = await route.handle(ctx);
          if (reply) sendReply(res, reply);
        } catch (thrown) {
          const error = callerFault(thrown);
          if (!error) throw thrown;
          if (res.headersSent) return void res.end();
          if (error.status === 401) res.setHeader('www-authenticate', 'Bearer realm="toolbelt"');
          for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
          sendError(res, error.status, error.toBody());
        }
      });
    }
  }
}
