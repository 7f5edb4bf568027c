/**
 * The HTTP router: find-my-way (the radix-tree router Fastify uses) behind a small contract.
 * `match` never throws: whatever the request target is — a malformed percent-encoding, an
 * absolute URL with a broken host, `*`, garbage, a control character in a parameter — it
 * answers either a route or a refusal with its status. docs/security.md says why a
 * well-kept router replaced the hand-written one.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import FindMyWay from 'find-my-way';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** Decoded path parameters; never empty, never holding a control character. */
  params: Record<string, string>;
  /** Decoded query parameters; a repeated key becomes an array. */
  query: Record<string, string | string[]>;
  /** The request's path as sent (still percent-encoded), for log lines. */
  path: string;
}
export type Handler = (ctx: RequestContext) => Promise<void> | void;

/** Why a request matched no handler: the status to answer and the error body. */
export interface Refusal {
  status: 400 | 404 | 405;
  code: string;
  message: string;
  /** For 405: the methods the path does allow. */
  allow?: string[];
}
export type Match = { handler: Handler; params: Record<string, string>; query: Record<string, string | string[]>; path: string } | Refusal;

/**
 * Longest path parameter routed; a longer one is "no route" (404). Ids and names are far
 * shorter, and Node already caps the whole request head at 16 KiB.
 */
const MAX_PARAM_LENGTH = 1024;
/** A path or query value never legitimately holds a C0 control or DEL (and Postgres refuses NUL). */
function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i += 1) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
/** `http(s)://host[:port]` of an absolute-form target: a name or a bracketed IPv6 address, no userinfo. */
const ABSOLUTE_FORM = /^https?:\/\/(?:[a-z0-9._~-]+|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?(?=[/?#]|$)/i;
/** `find` hands back a handle whose store is this when the path cannot be decoded. */
const BAD_URL = Symbol('bad url');

interface Store {
  handler: Handler;
}

export class Router {
  readonly #tree = FindMyWay({
    ignoreTrailingSlash: true,
    ignoreDuplicateSlashes: true,
    maxParamLength: MAX_PARAM_LENGTH,
    // Only `find` is used (never `lookup`): this marks the handle instead of answering.
    onBadUrl: () => BAD_URL,
  });
  readonly #methods = new Set<string>();

  /** Adds a route; `:name` segments become `ctx.params.name`. */
  on(method: string, pattern: string, handler: Handler): this {
    const upper = method.toUpperCase();
    const store: Store = { handler };
    this.#tree.on(upper as FindMyWay.HTTPMethod, pattern, () => undefined, store);
    this.#methods.add(upper);
    return this;
  }

  /** Finds the handler for a request target (`req.url` as sent), or says why there is none. */
  match(method: string, target: string): Match {
    const path = pathOf(target);
    if (path === undefined) return badTarget();
    const found = this.#find(method.toUpperCase(), target);
    if (found === BAD_URL) return malformed(path);
    if (found === undefined) return this.#unmatched(method, target, path);
    const { params, query, handler } = found;
    const bad = [...Object.values(params), ...Object.values(query).flat()].some(hasControlCharacter);
    if (bad) return { status: 400, code: 'INVALID', message: 'the path or query holds a control character' };
    if (Object.values(params).some((v) => v === '')) return noRoute(path);
    return { handler, params, query, path };
  }

  #find(method: string, target: string) {
    const handle = this.#tree.find(method as FindMyWay.HTTPMethod, target);
    if (handle === null) return undefined;
    const store = handle.store as Store | null;
    if (store === null) return BAD_URL;
    return {
      handler: store.handler,
      params: { ...handle.params } as Record<string, string>,
      query: Object.fromEntries(Object.entries(handle.searchParams ?? {})) as Record<string, string | string[]>,
    };
  }

  #unmatched(method: string, target: string, path: string): Refusal {
    const allow = [...this.#methods].filter((m) => m !== method.toUpperCase() && this.#find(m, target) !== undefined);
    if (allow.length === 0) return noRoute(path);
    return { status: 405, code: 'METHOD_NOT_ALLOWED', message: `${method} is not allowed on ${printable(path)}`, allow };
  }
}

/**
 * The path of a request target as sent: origin-form (`/a/b?c`) or absolute-form
 * (`http://host/a/b?c`, RFC 9112 §3.2.2). Asterisk-form, authority-form and anything else
 * give undefined.
 */
export function pathOf(target: string): string | undefined {
  let rest = target;
  if (!rest.startsWith('/')) {
    const absolute = ABSOLUTE_FORM.exec(rest);
    if (!absolute) return undefined;
    rest = rest.slice(absolute[0].length);
    if (!rest.startsWith('/')) rest = `/${rest}`;
  }
  const end = rest.search(/[?#]/);
  return end === -1 ? rest : rest.slice(0, end);
}

/** A path cut to a length fit for a message or a log line. */
export function printable(path: string): string {
  return path.length > 200 ? `${path.slice(0, 200)}…` : path;
}

function badTarget(): Refusal {
  return { status: 400, code: 'BAD_REQUEST_TARGET', message: 'the request target is neither a path nor an http(s) URL' };
}

function malformed(path: string): Refusal {
  return { status: 400, code: 'MALFORMED_PATH', message: `the path ${printable(path)} is not valid percent-encoded UTF-8` };
}

function noRoute(path: string): Refusal {
  return { status: 404, code: 'NOT_FOUND', message: `no route for ${printable(path)}` };
}

/** Sends a JSON body with a status. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Sends the project's error body: `{ error: { code, message, hint?, details? } }`. */
export function sendError(
  res: ServerResponse,
  status: number,
  error: { code: string; message: string; hint?: string; details?: unknown },
): void {
  sendJson(res, status, { error });
}
