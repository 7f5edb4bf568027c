/**
 * Routes: DigitalOcean path templates (as in the OpenAPI document, e.g.
 * `/v2/droplets/{droplet_id}`) to handlers. The template also names the route in stats and
 * lets the contract test find the schema for each answer.
 */
import type { SimState } from './state.ts';

export interface RequestContext {
  readonly method: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The parsed JSON body; undefined when the request had none. */
  readonly body: unknown;
  readonly state: SimState;
  /** The API's base URL, e.g. `http://127.0.0.1:9090/v2`. */
  readonly baseUrl: string;
  /** The full URL of this request (for pagination links). */
  readonly url: URL;
}

/** What a handler answers: a status and a JSON body (none for 204). */
export interface Answer {
  readonly status: number;
  readonly body?: unknown;
}

export type Handler = (ctx: RequestContext) => Answer | Promise<Answer>;

export interface Route {
  readonly method: string;
  readonly template: string;
  readonly handler: Handler;
}

export type RouteMatch =
  | { readonly kind: 'found'; readonly route: Route; readonly params: Record<string, string> }
  | { readonly kind: 'wrong-method'; readonly template: string; readonly allowed: string[] }
  | { readonly kind: 'none' };

interface CompiledTemplate {
  readonly template: string;
  readonly pattern: RegExp;
  readonly names: string[];
  readonly byMethod: Map<string, Route>;
}

export class Router {
  readonly #templates: CompiledTemplate[] = [];

  add(method: string, template: string, handler: Handler): this {
    let compiled = this.#templates.find((t) => t.template === template);
    if (!compiled) {
      const names: string[] = [];
      const source = template
        .split(/(\{[a-z_]+\})/)
        .map((part) => {
          const name = /^\{([a-z_]+)\}$/.exec(part)?.[1];
          if (!name) return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
          names.push(name);
          return '([^/]+)';
        })
        .join('');
      compiled = { template, pattern: new RegExp(`^${source}/?$`), names, byMethod: new Map() };
      this.#templates.push(compiled);
    }
    compiled.byMethod.set(method.toUpperCase(), { method: method.toUpperCase(), template, handler });
    return this;
  }

  match(method: string, pathname: string): RouteMatch {
    for (const compiled of this.#templates) {
      const found = compiled.pattern.exec(pathname);
      if (!found) continue;
      const route = compiled.byMethod.get(method.toUpperCase());
      if (!route) return { kind: 'wrong-method', template: compiled.template, allowed: [...compiled.byMethod.keys()] };
      const params: Record<string, string> = {};
      compiled.names.forEach((name, i) => {
        params[name] = safeDecode(found[i + 1]!);
      });
      return { kind: 'found', route, params };
    }
    return { kind: 'none' };
  }

  /** Every route, for documentation and the contract test. */
  routes(): Route[] {
    return this.#templates.flatMap((t) => [...t.byMethod.values()]);
  }
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
