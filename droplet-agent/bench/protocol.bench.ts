/**
 * The protocol's per-message cost on the receiving side (validation with zod included):
 * what the hub pays per heartbeat and what a hello with a full inventory costs.
 */
import { encodeMessage, parseAgentMessage, parseControllerMessage } from '@toolbelt/schema/protocol';
import { bench, describe } from 'vitest';

const metrics = {
  cpuPercent: 12.5,
  memoryUsedBytes: 412_000_000,
  memoryTotalBytes: 1_020_000_000,
  diskUsedBytes: 6_000_000_000,
  diskTotalBytes: 25_000_000_000,
  load1: 0.12,
  load5: 0.08,
  load15: 0.05,
  uptimeSeconds: 86_400,
};
const heartbeat = encodeMessage({ type: 'heartbeat', agentVersion: '0.1.0', seq: 42, metrics, toolCount: 3 });
const tool = (i: number) => ({
  toolInstanceId: `0b7c6a34-5f0e-4f7e-9c1a-${String(i).padStart(12, '0')}`,
  instanceName: `tool-${i}`,
  generation: 7,
  runtime: 'process' as const,
  state: 'running' as const,
  endpoints: [{ host: '127.0.0.1', port: 3000 + i, path: '/mcp', transport: 'mcp-http' as const }],
  health: { status: 'healthy' as const, checkedAt: new Date().toISOString() },
  capabilities: { serverInfo: { name: 'srv', version: '1.0.0' }, tools: Array.from({ length: 12 }, (_, t) => ({ name: `t${t}`, description: 'does a thing' })) },
  restarts: 0,
});
const hello = encodeMessage({
  type: 'hello',
  agentVersion: '0.1.0',
  protocolVersion: 1,
  droplet: { hostname: 'droplet-1', dropletId: 12345 },
  runtimes: ['docker', 'process'],
  inventory: Array.from({ length: 10 }, (_, i) => tool(i)),
  startedAt: new Date().toISOString(),
});
const command = encodeMessage({
  type: 'command',
  commandId: 'c1',
  commandType: 'install',
  toolInstanceId: 't1',
  generation: 3,
  payload: { tool: { instanceName: 'x', packagingType: 'npm_package', packageIdentifier: 'pkg', version: '1.0.0', transport: 'mcp-stdio' } },
});

describe('protocol', () => {
  bench('parse + validate a heartbeat', () => {
    parseAgentMessage(heartbeat);
  });
  bench('JSON.parse only of a heartbeat (baseline)', () => {
    JSON.parse(heartbeat);
  });
  bench('encode a heartbeat', () => {
    encodeMessage({ type: 'heartbeat', agentVersion: '0.1.0', seq: 42, metrics, toolCount: 3 });
  });
  bench('parse + validate a hello with 10 tools', () => {
    parseAgentMessage(hello);
  });
  bench('parse + validate an install command', () => {
    parseControllerMessage(command);
  });
});
