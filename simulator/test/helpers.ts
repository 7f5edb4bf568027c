/**
 * Test helpers: simulators that are closed after each test, and a fetch client that checks
 * every answer against DigitalOcean's OpenAPI document (so every behaviour test is also a
 * contract test).
 */
import { afterEach, expect } from 'vitest';
import { digitalOceanContract } from '../src/contract.ts';
import { type Simulator, type SimulatorOptions, startSimulator } from '../src/index.ts';

/** Starts simulators for a test; every one is closed after it. */
export function simulatorFixture(): (options?: SimulatorOptions) => Promise<Simulator> {
  const running: Simulator[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((sim) => sim.close()));
  });
  return async (options) => {
    const sim = await startSimulator({ rateLimit: false, ...options });
    running.push(sim);
    return sim;
  };
}

export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read DigitalOcean's JSON freely
  readonly body: any;
  /** The path template the answer was validated against, if the document has the path. */
  readonly template: string | undefined;
}

export interface CallOptions {
  /** Token to send; null sends no Authorization header. Default: the simulator's token. */
  readonly token?: string | null;
  readonly signal?: AbortSignal;
  /** Check the request body against the document's request schema first (default false). */
  readonly validRequest?: boolean;
}

/** Every answer seen, as `METHOD template status` (for coverage checks). */
export const seen = new Set<string>();

/** A client for `sim` whose every answer must match the OpenAPI document. */
export function client(sim: Simulator) {
  const contract = digitalOceanContract();
  const call = async (method: string, path: string, body?: unknown, options: CallOptions = {}): Promise<Reply> => {
    const template = contract.pathTemplateOf(`/v2${path}`);
    if (options.validRequest) {
      expect(template, `no template for ${path}`).toBeDefined();
      expect(contract.validateRequest(method, template!, body).errors).toEqual([]);
    }
    const token = options.token === undefined ? sim.token : options.token;
    const response = await fetch(`${sim.url}${path}`, {
      method,
      headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), 'content-type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      signal: options.signal,
    });
    const text = await response.text();
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    if (template && documented(method, template)) {
      const result = contract.validateResponse(method, template, response.status, parsed);
      expect(result.errors, `${method} ${path} → ${response.status} ${text.slice(0, 300)}`).toEqual([]);
      seen.add(`${method} ${template} ${response.status}`);
    }
    return { status: response.status, headers: response.headers, body: parsed, template };
  };
  return {
    call,
    get: (path: string, options?: CallOptions) => call('GET', path, undefined, options),
    post: (path: string, body?: unknown, options?: CallOptions) => call('POST', path, body, options),
    put: (path: string, body?: unknown, options?: CallOptions) => call('PUT', path, body, options),
    del: (path: string, body?: unknown, options?: CallOptions) => call('DELETE', path, body, options),
  };
}

function documented(method: string, template: string): boolean {
  try {
    digitalOceanContract().validateResponse(method, template, 200, undefined);
    return true;
  } catch {
    return false;
  }
}

/** A valid single-droplet create body. */
export function dropletBody(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64', ...extra };
}

/** Resolves after `n` turns of the event loop (lets queued I/O and callbacks run). */
export async function turns(n = 10): Promise<void> {
  for (let i = 0; i < n; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}
