/**
 * The labels the agent puts on its containers. They are the docker runtime's only memory:
 * rediscovery lists containers by `toolbelt.managed` and rebuilds each tool's record from
 * its labels. WARNING: labels are readable by anyone who can inspect the container — the
 * spec in them never holds a secret value (only secret *names*).
 */
import { type ToolSpec, toolSpecSchema } from '@toolbelt/schema/protocol';
import type { ToolRecord } from '../types.ts';

export const LABELS = {
  managed: 'toolbelt.managed',
  toolInstanceId: 'toolbelt.tool-instance-id',
  generation: 'toolbelt.generation',
  instanceName: 'toolbelt.instance-name',
  spec: 'toolbelt.spec',
  /** Which agent owns the container when agents share an engine (see DockerRuntimeOptions.scope). */
  scope: 'toolbelt.scope',
} as const;

/** The container name of a tool instance (ids are restricted to safe characters). */
export const containerName = (toolInstanceId: string): string => `toolbelt-${toolInstanceId}`;

export function labelsFor(toolInstanceId: string, generation: number, spec: ToolSpec): Record<string, string> {
  return {
    [LABELS.managed]: 'true',
    [LABELS.toolInstanceId]: toolInstanceId,
    [LABELS.generation]: String(generation),
    [LABELS.instanceName]: spec.instanceName,
    [LABELS.spec]: Buffer.from(JSON.stringify(spec)).toString('base64'),
  };
}

/** The record a container's labels describe, or undefined when they are not ours or damaged. */
export function recordFromLabels(labels: Record<string, string> | undefined, running: boolean): ToolRecord | undefined {
  if (!labels || labels[LABELS.managed] !== 'true') return undefined;
  const toolInstanceId = labels[LABELS.toolInstanceId];
  const generation = Number(labels[LABELS.generation]);
  if (!toolInstanceId || !Number.isInteger(generation)) return undefined;
  try {
    const spec = toolSpecSchema.parse(JSON.parse(Buffer.from(labels[LABELS.spec] ?? '', 'base64').toString('utf8')));
    return { toolInstanceId, generation, spec, desired: running ? 'running' : 'stopped' };
  } catch {
    return undefined;
  }
}
