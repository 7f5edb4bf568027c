/**
 * Forwarding: a gateway request that reaches a replica not holding the agent's socket is
 * passed whole to the replica that holds it (its `replica_url` on the agent's session), which
 * authenticates the same caller again, runs the call and records it; the answer streams back
 * unchanged. One hop at most: a forwarded request carries FORWARDED_BY and is never forwarded
 * again (the holder answers it itself, `agent not connected` if the socket moved meanwhile).
 */
import type { IncomingMessage } from 'node:http';
import { GATEWAY_ERROR_CODES } from '@toolbelt/schema/protocol';

/** Set on a forwarded request: the replica id that forwarded it. */
export const FORWARDED_BY = 'x-toolbelt-forwarded-by';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host', 'content-length']);

function copyHeaders(from: Iterable<[string, string | string[] | undefined]>): Headers {
  const headers = new Headers();
  for (const [name, value] of from) {
    if (value === undefined || HOP_BY_HOP.has(name.toLowerCase())) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return headers;
}

/** Whether `req` was forwarded here by another replica (then it is answered here, whatever happens). */
export function wasForwarded(req: IncomingMessage): boolean {
  return req.headers[FORWARDED_BY] !== undefined;
}

/**
 * Sends `req` (its body already read) to the same path on `target.url` and answers what the
 * holder answered. A holder that cannot be reached is a 503 JSON-RPC error the client may retry.
 */
export async function forwardRequest(req: IncomingMessage, body: Buffer, target: { url: string; from: string }, signal: AbortSignal): Promise<Response> {
  const headers = copyHeaders(Object.entries(req.headers));
  headers.set(FORWARDED_BY, target.from);
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD' && body.length > 0;
  try {
    const answer = await fetch(new URL(req.url ?? '/', target.url), { method, headers, signal, redirect: 'manual', ...(hasBody ? { body } : {}) });
    return new Response(answer.body, { status: answer.status, headers: copyHeaders(answer.headers.entries()) });
  } catch (error) {
    const message = `the replica holding the agent's connection (${target.url}) did not answer: ${(error as Error).message}; retry`;
    return new Response(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: GATEWAY_ERROR_CODES.agentUnavailable, message } }), {
      status: 503,
      headers: { 'content-type': 'application/json', 'retry-after': '1' },
    });
  }
}
