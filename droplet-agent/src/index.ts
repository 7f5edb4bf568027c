/**
 * The droplet agent: connection, command handling, runtimes (docker, process), health
 * checks, metrics and logs. The process entry point is `src/main.ts`.
 */
export { Agent, type AgentOptions } from './agent.ts';
export { agentConfigSchema, type AgentConfig, type AgentConfigInput, loadAgentConfig, parseAgentConfig } from './config.ts';
export { readCredential, type StoredCredential } from './credentials.ts';
