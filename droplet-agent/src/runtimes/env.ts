/**
 * A tool's environment, assembled the same way by both runtimes: the spec's variables and
 * its secrets first, the agent's own variables last (nothing overrides where the tool
 * listens, who it is, its home and search path), and never a reserved variable
 * (`isReservedEnvName`: loader and interpreter hooks such as NODE_OPTIONS or LD_PRELOAD) —
 * whatever the controller sent. `assertNoReservedEnv` refuses such a spec outright when a
 * command brings it; assembling drops them anyway, for specs stored before this rule.
 */
import { ToolbeltError } from '@toolbelt/schema/errors';
import { AGENT_ERROR_CODES, isReservedEnvName, RESERVED_ENV_HINT, reservedInSpec, type ToolSpec } from '@toolbelt/schema/protocol';
import type { SecretEnv } from './types.ts';

/** Throws AGENT_ERR_INSTALL_FAILED naming the reserved variables a spec asks for. */
export function assertNoReservedEnv(spec: ToolSpec): void {
  const reserved = reservedInSpec(spec);
  if (reserved.length === 0) return;
  throw new ToolbeltError(AGENT_ERROR_CODES.installFailed, `the tool spec sets reserved environment variable(s) ${reserved.join(', ')}; the agent refuses it`, {
    hint: RESERVED_ENV_HINT,
  });
}

/** The spec's variables and bound secrets (reserved ones left out), then `own` over them. */
export function toolEnvironment(spec: ToolSpec, secrets: SecretEnv, own: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(spec.env)) if (!isReservedEnvName(name)) env[name] = value;
  for (const name of spec.secretEnv) if (!isReservedEnvName(name) && secrets[name] !== undefined) env[name] = secrets[name];
  return { ...env, ...own };
}
