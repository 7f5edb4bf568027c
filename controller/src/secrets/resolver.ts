/**
 * The hub's secret resolver over the secret store: a tool instance's `secret_refs` (env var →
 * its agent's secret name), answered for that instance's own environment only.
 */
import { type Db, getEnvironment, getToolInstance } from '@toolbelt/schema';
import { Counter, type Registry } from 'prom-client';
import type { SecretResolver } from '../hub/index.ts';
import type { SecretStore } from './store.ts';

/**
 * WARNING: the resolver returns values; nothing here logs them. Only the variables the tool
 * instance binds are answered, from its own agent's secrets; without a store, none.
 */
export function secretResolver(db: Db, secrets: SecretStore | undefined, registry?: Registry): SecretResolver {
  // Alert: ToolbeltSecretUnwrapFailures (deploy/prometheus/alerts.yaml).
  const failures = new Counter({
    name: 'toolbelt_secret_resolve_failures_total',
    help: 'Secret deliveries that failed: a value that could not be unwrapped (wrong or missing master key) or read from Vault',
    registers: registry ? [registry] : [],
  });
  return async (environmentId, toolInstanceId, names) => {
    if (!secrets) return {};
    const tool = await getToolInstance(db, toolInstanceId);
    if (!tool || tool.agent_droplet_id !== environmentId) return {};
    const agentId = (await getEnvironment(db, environmentId))?.agent_id;
    if (agentId === undefined) return {};
    const bound = names.filter((name) => tool.secret_refs[name] !== undefined);
    const { values } = await secrets.resolve(agentId, [...new Set(bound.map((name) => tool.secret_refs[name]!))]).catch((error: unknown) => {
      failures.inc();
      throw error;
    });
    const answer: Record<string, string> = {};
    for (const name of bound) {
      const value = values[tool.secret_refs[name]!];
      if (value !== undefined) answer[name] = value;
    }
    return answer;
  };
}
