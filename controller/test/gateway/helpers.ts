/** The official MCP client (SDK v2) against the gateway, with a bearer token, in either revision. */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

export type Revision = '2026-07-28' | '2025-11-25';

export async function gatewayClient(url: string, token: string, revision: Revision): Promise<Client> {
  const client = new Client(
    { name: 'toolbelt-gateway-test', version: '1.0.0' },
    revision === '2026-07-28' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {},
  );
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  return client;
}

/** The text of a tool result's content. */
export function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((c) => c.text ?? '').join('');
}
