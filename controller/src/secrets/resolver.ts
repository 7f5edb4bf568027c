/**
 * The hub's secret resolver over the secret store: a tool instance's `secret_refs` (env var →
 * its agent's secret name), answered for that instance's own environment only.
 */
import { type Db, getEnvironment, getToolInstance } from '@toolbelt/schema';
import type { SecretResolver } from '../hub/index.ts';
import type { SecretStore } from './store.ts';

/**
 * WARNING: the resolver returns values; nothing here logs them. Only the variables the tool
 * instance binds are answered, from its own agent's secrets; without a store, none.
 */
export function secretResolver(db: Db, secrets: SecretStore | undefined): SecretResolver {
  return async (environmentId, toolInstanceId, names) => {
    if (!secrets) return {};
    const tool = await getToolInstance(db, toolInstanceId);
    if (!tool || tool.agent_droplet_id !== environmentId) return {};
    const agentId = (await getEnvironment(db, environmentId))?.agent_id;
    if (agentId === undefined) return {};
    const bound = names.filter((name) => tool.secret_refs[name] !== undefined);
    const { values } = await secrets.resolve(agentId, [...new Set(bound.map((name) => tool.secret_refs[name]!))]);
    const answer: Record<string, string> = {};
    for (const name of bound) {
      const value = values[tool.secret_refs[name]!];
      if (value !== undefined) answer[name] = value;
    }
    return answer;
  };
}
