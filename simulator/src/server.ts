/**
 * The request pipeline: authenticate (bearer token) → rate limit (per token) → injected
 * fault → route → read the JSON body → handler → answer, with DigitalOcean's rate-limit
 * headers on every answer and its error body `{ id, message, request_id }` on errors.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Clock } from '@toolbelt/schema/clock';
import { ApiError } from './api-error.ts';
import type { Fault, FaultRegistry } from './faults.ts';
import { readJsonBody, sendJson } from './http.ts';
import type { RateLimiter } from './ratelimit.ts';
import type { Answer, Router, RouteMatch } from './router.ts';
import type { SimState } from './state.ts';
import type { Outcome, SimulatorStats } from './stats.ts';

export interface PipelineDeps {
  readonly state: SimState;
  readonly router: Router;
  readonly limiter: RateLimiter | undefined;
  readonly faults: FaultRegistry;
  readonly stats: SimulatorStats;
  readonly tokens: ReadonlySet<string>;
  readonly clock: Clock;
  /** Aborted when the simulator closes (ends delayed requests). */
  readonly closing: AbortSignal;
  /** The API base URL (known once listening), e.g. `http://127.0.0.1:9090/v2`. */
  readonly baseUrl: () => string;
}

/** DigitalOcean's exact answers for a bad token and for the rate limit. */
export const UNAUTHORIZED = { id: 'Unauthorized', message: 'Unable to authenticate you' };
export const TOO_MANY_REQUESTS = { id: 'too_many_requests', message: 'API Rate limit exceeded.' };

const SERVER_ERRORS: Record<number, { id: string; message: string }> = {
  500: { id: 'server_error', message: 'Unexpected server-side error' },
  502: { id: 'bad_gateway', message: 'Bad gateway' },
  503: { id: 'service_unavailable', message: 'The service is temporarily unavailable. Please try again later.' },
  504: { id: 'gateway_timeout', message: 'Gateway timeout' },
};

interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly method: string;
  readonly template: string;
  readonly requestId: string;
  headers: Record<string, string>;
}

function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

function templateOf(match: RouteMatch): string {
  if (match.kind === 'found') return match.route.template;
  return match.kind === 'wrong-method' ? match.template : '(unmatched)';
}

export function createApiServer(deps: PipelineDeps): Server {
  return createServer((req, res) => {
    handle(deps, req, res).catch((error: unknown) => {
      // Only reachable if writing the answer itself failed; the connection is all that is left.
      res.destroy(error instanceof Error ? error : undefined);
    });
  });
}

async function handle(deps: PipelineDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = (req.method ?? 'GET').toUpperCase();
  const url = new URL(req.url ?? '/', new URL(deps.baseUrl()).origin);
  const match = deps.router.match(method, url.pathname);
  const ex: Exchange = { req, res, method, template: templateOf(match), requestId: deps.state.uuid(), headers: {} };
  if (!admit(deps, ex)) return;
  const fault = deps.faults.pick(method, url.pathname + url.search);
  if (fault && (await applyFault(deps, ex, fault))) return;
  const result = await route(deps, ex, match, url);
  if (fault?.kind === 'loseAnswer') return loseAnswer(deps, ex);
  return answer(deps, ex, result.status, result.body);
}

/** Authentication, then the rate limit; answers 401 or 429 itself and returns false then. */
function admit(deps: PipelineDeps, ex: Exchange): boolean {
  const token = bearerToken(ex.req.headers.authorization);
  if (!token || !deps.tokens.has(token)) {
    ex.headers = deps.limiter?.take('(unauthenticated)', false).headers ?? {};
    answer(deps, ex, 401, UNAUTHORIZED);
    return false;
  }
  if (!deps.limiter) return true;
  const decision = deps.limiter.take(token);
  ex.headers = decision.headers;
  if (decision.allowed) return true;
  if (decision.retryAfterSeconds !== undefined) ex.headers = { ...ex.headers, 'retry-after': String(decision.retryAfterSeconds) };
  answer(deps, ex, 429, TOO_MANY_REQUESTS);
  return false;
}

/** Applies a fault; true when the request is finished (answered, dropped or left hanging). */
async function applyFault(deps: PipelineDeps, ex: Exchange, fault: Fault): Promise<boolean> {
  switch (fault.kind) {
    case 'error': {
      const status = fault.status ?? 500;
      answer(deps, ex, status, { ...SERVER_ERRORS[status]!, request_id: ex.requestId });
      return true;
    }
    case 'rateLimit':
      ex.headers = { ...ex.headers, 'ratelimit-remaining': '0', 'retry-after': String(fault.retryAfterSeconds ?? 1) };
      answer(deps, ex, 429, TOO_MANY_REQUESTS);
      return true;
    case 'drop':
      deps.stats.record(ex.method, ex.template, 'dropped');
      ex.req.socket.destroy();
      return true;
    case 'timeout':
      deps.stats.record(ex.method, ex.template, 'timeout');
      return true;
    case 'delay':
      try {
        await deps.clock.sleep(fault.ms, deps.closing);
      } catch {
        ex.req.socket.destroy();
        return true;
      }
      return false;
    case 'loseAnswer':
      return false;
  }
}

async function route(deps: PipelineDeps, ex: Exchange, match: RouteMatch, url: URL): Promise<Answer> {
  try {
    if (match.kind === 'none') throw new ApiError(404, 'not_found', 'The resource you were accessing could not be found.');
    if (match.kind === 'wrong-method') {
      ex.headers = { ...ex.headers, allow: match.allowed.join(', ') };
      throw new ApiError(405, 'method_not_allowed', `${ex.method} is not allowed on ${match.template}; use ${match.allowed.join(', ')}.`);
    }
    const body = await readJsonBody(ex.req);
    const ctx = { method: ex.method, params: match.params, query: url.searchParams, body, state: deps.state, baseUrl: deps.baseUrl(), url };
    return await match.route.handler(ctx);
  } catch (error) {
    if (error instanceof ApiError) return { status: error.status, body: { id: error.id, message: error.message, request_id: ex.requestId } };
    const message = error instanceof Error ? error.message : String(error);
    return { status: 500, body: { id: 'server_error', message: `Unexpected server-side error: ${message}`, request_id: ex.requestId } };
  }
}

function loseAnswer(deps: PipelineDeps, ex: Exchange): void {
  deps.stats.record(ex.method, ex.template, 'lost');
  ex.req.socket.destroy();
}

function answer(deps: PipelineDeps, ex: Exchange, status: number, body: unknown): void {
  deps.stats.record(ex.method, ex.template, status as Outcome);
  if (ex.res.destroyed || ex.req.socket.destroyed) return;
  sendJson(ex.res, status, body, ex.headers);
}
