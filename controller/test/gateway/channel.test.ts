/**
 * The controller's end of the gateway channel, without a socket: an answer over the bound is
 * refused cleanly (and its remaining parts ignored), a closed socket fails its calls at once.
 */
import { GATEWAY_ERROR_CODES, MAX_TOOL_CALL_BYTES, MAX_TOOL_CALL_PART_CHARS, splitBody } from '@toolbelt/schema/protocol';
import { expect, it } from 'vitest';
import { type CallSocket, ToolChannel } from '../../src/gateway/channel.ts';

function socket(): CallSocket & { sent: { type: string; callId?: string }[] } {
  const sent: { type: string; callId?: string }[] = [];
  return { id: 'conn-1', environmentId: 'env-1', sent, send: (message: unknown) => (sent.push(message as { type: string }), true) } as never;
}

it('refuses an answer over the bound with -32013, and still carries the next call', async () => {
  const channel = new ToolChannel();
  const s = socket();
  const call = channel.call(s, 'tool-1', { method: 'tools/call', params: { name: 'big' } }, { timeoutMs: 5_000 });
  const callId = s.sent[0]!.callId!;
  const huge = JSON.stringify({ result: { content: [{ type: 'text', text: 'z'.repeat(MAX_TOOL_CALL_BYTES) }] } });
  const parts = splitBody(huge);
  expect(parts.length).toBeGreaterThan(MAX_TOOL_CALL_BYTES / MAX_TOOL_CALL_PART_CHARS);
  for (const part of parts) channel.onReply(s, { type: 'mcp_reply', v: 1, callId, ...part });
  expect(await call).toMatchObject({ error: { code: GATEWAY_ERROR_CODES.tooLarge } });
  expect(channel.inFlight).toBe(0);

  const next = channel.call(s, 'tool-1', { method: 'tools/call', params: { name: 'small' } }, { timeoutMs: 5_000 });
  channel.onReply(s, { type: 'mcp_reply', v: 1, callId: s.sent.at(-1)!.callId!, chunk: '{"result":{"ok":true}}', last: true });
  expect(await next).toEqual({ result: { ok: true } });
});

it('fails the calls of a closed socket with -32000 at once', async () => {
  const channel = new ToolChannel();
  const s = socket();
  const call = channel.call(s, 'tool-1', { method: 'tools/call', params: { name: 'slow' } }, { timeoutMs: 60_000 });
  channel.onClosed(s);
  expect(await call).toMatchObject({ error: { code: GATEWAY_ERROR_CODES.interrupted } });
  expect(channel.inFlight).toBe(0);
});
