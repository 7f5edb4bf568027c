/**
 * A small router over node:http: `METHOD /path/:param` patterns, JSON helpers, and one
 * place where a thrown error becomes a 500 without leaking internals.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  url: URL;
}
export type Handler = (ctx: RequestContext) => Promise<void> | void;

interface Route {
  method: string;
  parts: string[];
  handler: Handler;
}

export class Router {
  readonly #routes: Route[] = [];

  /** Adds a route; `:name` segments become `ctx.params.name`. */
  on(method: string, pattern: string, handler: Handler): this {
    this.#routes.push({ method: method.toUpperCase(), parts: splitPath(pattern), handler });
    return this;
  }

  /** Finds the handler for a request: a route, 405 for a known path, or undefined (404). */
  match(method: string, pathname: string): { handler: Handler; params: Record<string, string> } | 'method_not_allowed' | undefined {
    const parts = splitPath(pathname);
    let pathKnown = false;
    for (const route of this.#routes) {
      const params = matchParts(route.parts, parts);
      if (!params) continue;
      pathKnown = true;
      if (route.method === method.toUpperCase()) return { handler: route.handler, params };
    }
    return pathKnown ? 'method_not_allowed' : undefined;
  }
}

function splitPath(path: string): string[] {
  return path.split('/').filter((p) => p.length > 0);
}

function matchParts(pattern: string[], actual: string[]): Record<string, string> | undefined {
  if (pattern.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i += 1) {
    const p = pattern[i]!;
    const a = actual[i]!;
    if (p.startsWith(':')) params[p.slice(1)] = decodeURIComponent(a);
    else if (p !== a) return undefined;
  }
  return params;
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
