/**
 * Every DigitalOcean request goes through `Transport.call`: it waits for the budget, sends,
 * feeds the answer's rate-limit headers back to the budget, counts it, turns a failure into
 * a ProviderError and resends when retry.ts says so.
 *
 * The dots-wrapper client is built here with our own axios context: no proxy for a loopback
 * endpoint (the simulator; axios would otherwise honour HTTP(S)_PROXY), and HTTP agents the
 * provider owns, so `close()` leaves no socket behind.
 */
import http from 'node:http';
import https from 'node:https';
import type { Clock } from '@toolbelt/schema';
import { modules } from 'dots-wrapper';
import { failureFacts, isHttpFailure, readRateLimitHeaders } from './answers.ts';
import type { RateBudget } from './budget.ts';
import { type FailureFacts, type ProviderErrorKind, OUTCOME_UNKNOWN_HINT, ProviderError, classifyFailure, mayHaveActed } from './errors.ts';
import { type CallSafety, type RetryPolicy, backoffDelay, decideRetry } from './retry.ts';
import type { CallCounter, CallOutcome } from './stats.ts';

/** Where the provider reports retries; pino's `(fields, message)` shape. Never gets the token. */
export interface ProviderLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

/** The dots-wrapper client type. */
export type DotsClient = ReturnType<ReturnType<typeof modules.common.createApiClient>>;

/** What dots-wrapper resolves with: axios' response. */
export interface DotsAnswer<T> {
  data: T;
  status: number;
  headers: object;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** A dots-wrapper client over agents the caller closes. */
export function createDotsClient(options: { token: string; apiUrl: string; requestTimeoutMs: number }): {
  client: DotsClient;
  close: () => void;
} {
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 16 });
  const loopback = LOOPBACK_HOSTS.has(new URL(options.apiUrl).hostname);
  const createContext: typeof modules.common.createContext = (input) => {
    const context = modules.common.createContext(input);
    Object.assign(context.httpClient.defaults, { httpAgent, httpsAgent, ...(loopback ? { proxy: false } : {}) });
    return context;
  };
  const client = modules.common.createApiClient({ modules, createContext })({
    token: options.token,
    endpoint: options.apiUrl,
    requestTimeoutInMs: options.requestTimeoutMs,
  });
  return {
    client,
    close: () => {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/** One logical call (one or more attempts). */
export interface CallRequest<T> {
  /** `METHOD /v2/path/{template}`, the counters' key. */
  endpoint: string;
  safety: CallSafety;
  send: () => Promise<DotsAnswer<T>>;
  signal?: AbortSignal;
}

export interface TransportOptions {
  clock: Clock;
  budget: RateBudget;
  counter: CallCounter;
  retry: RetryPolicy;
  logger?: ProviderLogger;
  /** For the backoff's jitter (default Math.random). */
  random?: () => number;
}

type Attempt<T> = { ok: true; answer: DotsAnswer<T> } | { ok: false; facts: FailureFacts; kind: ProviderErrorKind };

export interface Transport {
  call<T>(request: CallRequest<T>): Promise<DotsAnswer<T>>;
}

function outcomeOf(facts: FailureFacts): CallOutcome {
  if (facts.status !== undefined) return facts.status;
  return facts.timedOut ? 'timeout' : 'network';
}

export function createTransport(options: TransportOptions): Transport {
  const { clock, budget, counter, retry, logger } = options;
  const random = options.random ?? Math.random;

  async function attempt<T>(request: CallRequest<T>): Promise<Attempt<T>> {
    try {
      const answer = await request.send();
      budget.observe(readRateLimitHeaders(answer.headers, clock.now()), answer.status);
      counter.record(request.endpoint, answer.status);
      return { ok: true, answer };
    } catch (thrown) {
      // Anything not from the HTTP layer is a bug of ours: let it out unchanged.
      if (!isHttpFailure(thrown)) throw thrown;
      const facts = failureFacts(thrown, clock.now());
      const headers = (thrown as { response?: { headers?: unknown } }).response?.headers;
      if (headers) budget.observe(readRateLimitHeaders(headers, clock.now()), facts.status);
      counter.record(request.endpoint, outcomeOf(facts));
      return { ok: false, facts, kind: classifyFailure(facts) };
    }
  }

  async function call<T>(request: CallRequest<T>): Promise<DotsAnswer<T>> {
    for (let retries = 0; ; retries += 1) {
      const settle = await budget.acquire(request.signal);
      const result = await attempt(request).finally(settle);
      if (result.ok) return result.answer;
      const { facts, kind } = result;
      const acted = mayHaveActed(facts);
      const decision = decideRetry({ kind, mayHaveActed: acted, safety: request.safety, retriesSoFar: retries, maxRetries: retry.maxRetries });
      if (decision.action === 'stop') {
        const outcomeUnknown = acted && !request.endpoint.startsWith('GET ') && kind === 'transient';
        const hint = outcomeUnknown ? OUTCOME_UNKNOWN_HINT : undefined;
        throw new ProviderError({ kind, endpoint: request.endpoint, facts, attempts: retries + 1, outcomeUnknown, hint });
      }
      counter.retried();
      // A 429 waits in budget.acquire for the pause every caller shares; others back off.
      const delayMs = decision.action === 'backoff' ? backoffDelay(retries, retry, random) : 0;
      logger?.warn(
        { endpoint: request.endpoint, status: outcomeOf(facts), requestId: facts.requestId, kind, retry: retries + 1, delayMs },
        `DigitalOcean ${request.endpoint} failed (${facts.message}); sending again`,
      );
      if (delayMs > 0) await clock.sleep(delayMs, request.signal);
    }
  }

  return { call };
}
