/**
 * Shapes stored in jsonb columns, defined once with zod so that the API, the protocol and
 * the store agree on them.
 */
import { z } from 'zod';

/** A Kubernetes-style condition (type, status, reason, message, last transition). */
export const conditionSchema = z.object({
  type: z.string().min(1),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().min(1),
  message: z.string(),
  lastTransitionTime: z.string(),
  observedGeneration: z.number().int().nonnegative().optional(),
});
export type Condition = z.infer<typeof conditionSchema>;

/** Host metrics an agent reports with each heartbeat. */
export const hostMetricsSchema = z.object({
  cpuPercent: z.number().min(0).max(100),
  memoryUsedBytes: z.number().nonnegative(),
  memoryTotalBytes: z.number().nonnegative(),
  diskUsedBytes: z.number().nonnegative(),
  diskTotalBytes: z.number().nonnegative(),
  load1: z.number().nonnegative(),
  load5: z.number().nonnegative(),
  load15: z.number().nonnegative(),
  uptimeSeconds: z.number().nonnegative(),
});
export type HostMetrics = z.infer<typeof hostMetricsSchema>;

/** Where a running tool can be reached. */
export const endpointSchema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  path: z.string().default('/'),
  transport: z.enum(['mcp-stdio', 'mcp-http', 'http', 'none']),
});
export type Endpoint = z.infer<typeof endpointSchema>;

/** What an MCP tool said it offers in its last health check. */
export const toolCapabilitiesSchema = z.object({
  serverInfo: z.object({ name: z.string(), version: z.string() }).optional(),
  tools: z
    .array(
      z.object({
        name: z.string(),
        description: z.string().optional(),
        /** The tool's JSON Schema of its arguments, as `tools/list` gave it (left out when over 8 KB). */
        inputSchema: z.record(z.string(), z.unknown()).optional(),
      }),
    )
    .default([]),
  checkedAt: z.string().optional(),
});
export type ToolCapabilities = z.infer<typeof toolCapabilitiesSchema>;

/** The versions a catalog tool offers and which one is installed when none is named. */
export const versionInfoSchema = z
  .object({
    versions: z.array(z.string().min(1)).min(1),
    default: z.string().min(1),
  })
  .refine((v) => v.versions.includes(v.default), {
    message: 'default must be one of versions',
    path: ['default'],
  });
export type VersionInfo = z.infer<typeof versionInfoSchema>;
