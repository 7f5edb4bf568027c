/**
 * The CLI's HTTP client for the controller's API. An API error becomes a CliError with the
 * server's message, hint and each field problem on its own line; an unreachable server
 * says where it looked and how to start one.
 */
import { CliError } from './context.ts';

export interface ApiErrorBody {
  error: { code: string; message: string; hint?: string; details?: { path: string; message: string }[] };
}

export class ApiClient {
  constructor(
    readonly server: string,
    private readonly token: string | undefined,
  ) {}

  async request<T>(method: string, path: string, options: { body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
    const response = await this.fetch(method, path, options);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    const body = text ? (JSON.parse(text) as unknown) : undefined;
    if (!response.ok) throw apiError(response.status, body);
    return body as T;
  }

  /** The raw response (for streams); network failures become a CliError. */
  async fetch(method: string, path: string, options: { body?: unknown; signal?: AbortSignal; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await fetch(`${this.server}${path}`, {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(`cannot reach the controller at ${this.server}: ${cause?.code ?? cause?.message ?? (error as Error).message}`, 1, [
        'hint: start one with `toolbelt server`, or point --server / TOOLBELT_SERVER at it',
      ]);
    }
  }
}

/** The CliError for an API error answer. */
export function apiError(status: number, body: unknown): CliError {
  const error = (body as ApiErrorBody | undefined)?.error;
  if (!error) return new CliError(`the controller answered ${status}`);
  const lines = (error.details ?? []).map((d) => `  ${d.path}: ${d.message}`);
  if (error.hint) lines.push(`hint: ${error.hint}`);
  if (status === 401 && !error.hint) lines.push('hint: pass --token or set TOOLBELT_TOKEN');
  const cli = new CliError(`${error.message} (${status} ${error.code})`, 1, lines);
  (cli as CliError & { body?: ApiErrorBody }).body = body as ApiErrorBody;
  return cli;
}
