/**
 * The shapes of the /v1 answers the console reads. Shared shapes come from schema's types
 * (type-only imports: nothing of schema is bundled); the views mirror controller/src/api/views.ts.
 */
import type { ApiRole, Condition, Endpoint, HostMetrics } from '@toolbelt/schema';

export type { ApiRole, Condition, HostMetrics };

export interface Page<T> {
  items: T[];
  next: string | null;
}

export interface Environment {
  id: string;
  agent_id: string;
  active: boolean;
  region: string;
  size: string;
  image: string;
  status: string;
  conditions: Condition[];
  droplet_id: number | null;
  ip_address: string | null;
  last_heartbeat_at: string | null;
  agent_version: string | null;
  host_metrics: HostMetrics | null;
  created_at: string;
  price?: { monthly: number; hourly: number; currency: string } | null;
  typical_provisioning?: { median_seconds: number | null; samples: number };
}

export interface Agent {
  id: string;
  name: string;
  description: string;
  tool_environment_active: boolean;
  deletion_requested_at: string | null;
  created_at: string;
  environment: Environment | null;
}

export interface McpTool {
  name: string;
  description?: string;
  inputSchema?: unknown;
}

export interface Tool {
  id: string;
  instance_name: string;
  tool_name: string;
  tool_catalog_id: string;
  version: string;
  config_details: Record<string, unknown>;
  secret_refs: Record<string, string>;
  desired_state: string;
  deletion_requested_at: string | null;
  status: string;
  conditions: Condition[];
  endpoints: Endpoint[];
  capabilities: { tools?: McpTool[]; [key: string]: unknown } | null;
  last_error: string | null;
}

export interface CatalogTool {
  id: string;
  tool_name: string;
  description: string;
  version_info: { versions: string[]; default: string };
  packaging_type: string;
  package_identifier: string;
  default_config_template: JsonSchema;
  transport: string;
  ports: number[];
  health_check: Record<string, unknown> | null;
}

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  'x-toolbelt-secrets'?: string[];
  [key: string]: unknown;
}

export interface ToolbeltEvent {
  id: number;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  object: { kind: string; id: string };
  count: number;
  first_seen: string;
  last_seen: string;
}

export interface DoOptions {
  regions: { slug: string; name: string; available: boolean; sizes: string[] }[];
  sizes: { slug: string; description: string; vcpus: number; memory_mb: number; disk_gb: number; price_monthly: number; price_hourly: number; available: boolean; regions: string[] }[];
}

export interface Session {
  name: string;
  role: ApiRole;
  csrf_token: string | null;
}
