/**
 * How an API route is declared: method, path, who may call it, the zod schemas of its
 * params, query and body, its responses, and a handler. The registry validates requests
 * with these schemas and generates the OpenAPI document from the very same ones.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiRole } from '@toolbelt/schema';
import type { ObjectKind } from './authz.ts';
import type { z } from 'zod';

/** Who may call a route: anyone (`public`), or a token of at least this role. */
export type Access = 'public' | ApiRole;
export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** The authenticated caller of a request. */
export interface Caller {
  tokenId: string;
  name: string;
  role: ApiRole;
  /** Set when the caller came with a console session cookie rather than a bearer token. */
  sessionId?: string;
  /** The one agent a `caller` token may reach. */
  agentId?: string;
}

export interface RouteContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** Undefined only on public routes. */
  caller: Caller | undefined;
  /** The `If-Match` header without quotes (`*` is treated as absent). */
  ifMatch: string | undefined;
  req: IncomingMessage;
  res: ServerResponse;
}

/** A handler's answer; a handler that wrote the response itself (a stream) returns nothing. */
export interface Reply {
  status: number;
  body?: unknown;
  /** Sent as a strong ETag; the same value is expected back in `If-Match`. */
  etag?: string;
  /** A non-JSON body (for example Prometheus text). */
  text?: { contentType: string; value: string };
}

export interface ResponseDoc {
  description: string;
  schema?: z.ZodType;
  /** Defaults to application/json. */
  contentType?: string;
}

export interface RouteDef<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  method: Method;
  /** `/v1/agents/:id` — `:name` segments are path parameters. */
  path: string;
  summary: string;
  tag: string;
  access: Access;
  /**
   * A `caller` token bound to the agent of `:id` may call this route too; the handler must
   * check the binding with `assertAgentAccess` once it has resolved the agent.
   */
  agentCaller?: boolean;
  /**
   * What the route writes, decided by kind (authz.ts): the kinds it always writes, or — for
   * `apply` — the kinds its validated body writes. Every route but a GET declares it (`[]`
   * when it writes nothing); the role matrix test holds every route to it.
   */
  writes?: readonly ObjectKind[] | ((request: { body: z.output<B>; query: z.output<Q> }) => readonly ObjectKind[]);
  params?: P;
  query?: Q;
  body?: B;
  /** Also accept `application/yaml` bodies (parsed as a stream of documents). */
  yamlBody?: boolean;
  /** Largest body accepted, in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** Whether the route honours `If-Match` (documented in OpenAPI). */
  ifMatch?: boolean;
  responses: Record<number, ResponseDoc>;
  // Method syntax on purpose: a route with narrow schemas is still an AnyRoute.
  handle(ctx: RouteContext<z.output<P>, z.output<Q>, z.output<B>>): Promise<Reply | undefined> | Reply | undefined;
}

export type AnyRoute = RouteDef<z.ZodType, z.ZodType, z.ZodType>;

/** Declares a route with its handler's types inferred from its schemas. */
export function defineRoute<
  P extends z.ZodType = z.ZodObject<Record<string, never>>,
  Q extends z.ZodType = z.ZodObject<Record<string, never>>,
  B extends z.ZodType = z.ZodUndefined,
>(def: RouteDef<P, Q, B>): AnyRoute {
  return def as unknown as AnyRoute;
}
