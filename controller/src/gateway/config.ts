/**
 * The MCP gateway's settings, merged into the controller's one config schema (config.ts).
 */
import { MAX_TOOL_CALL_TIMEOUT_MS } from '@toolbelt/schema/protocol';
import { z } from 'zod';

export const GATEWAY_SETTINGS = {
  gatewayCallTimeoutMs: { env: 'TOOLBELT_GATEWAY_CALL_TIMEOUT_MS', flag: 'gateway-call-timeout-ms', help: 'how long one MCP call through the gateway may take' },
  gatewayRatePerAgent: { env: 'TOOLBELT_GATEWAY_RATE_PER_AGENT', flag: 'gateway-rate-per-agent', help: 'gateway requests per second per agent (bursts of twice that); more get 429' },
  gatewayConcurrencyPerAgent: {
    env: 'TOOLBELT_GATEWAY_CONCURRENCY_PER_AGENT',
    flag: 'gateway-concurrency-per-agent',
    help: 'gateway requests in flight per agent and replica; more get 429',
  },
  gatewayMaxBodyBytes: { env: 'TOOLBELT_GATEWAY_MAX_BODY_BYTES', flag: 'gateway-max-body-bytes', help: 'largest MCP request body the gateway accepts' },
  gatewayAuditRetentionMs: { env: 'TOOLBELT_GATEWAY_AUDIT_RETENTION_MS', flag: 'gateway-audit-retention-ms', help: 'how long gateway call records are kept' },
  gatewayInternalUrl: {
    env: 'TOOLBELT_GATEWAY_INTERNAL_URL',
    flag: 'gateway-internal-url',
    help: "the URL the other replicas forward gateway requests to this one at (default: the address it listens on; a wildcard address becomes the host's name)",
  },
} as const;

const int = (min: number, max: number, fallback: number) =>
  z.preprocess((v) => (v === '' ? undefined : v), z.coerce.number().int().min(min).max(max).default(fallback));

export const gatewayFields = {
  gatewayCallTimeoutMs: int(100, MAX_TOOL_CALL_TIMEOUT_MS, 60_000),
  gatewayRatePerAgent: int(1, 1_000_000, 500),
  gatewayConcurrencyPerAgent: int(1, 100_000, 256),
  gatewayMaxBodyBytes: int(1024, 64 * 1024 * 1024, 8 * 1024 * 1024),
  gatewayAuditRetentionMs: int(60_000, 10 * 365 * 24 * 3600_000, 30 * 24 * 3600_000),
  gatewayInternalUrl: z.preprocess((v) => (v === '' ? undefined : v), z.url({ protocol: /^https?$/ }).optional()),
};
