/**
 * The agent hub (see docs/agent.md, "The hub"): the controller's endpoint for droplet agents.
 */
export { AgentHub, type HubStats } from './hub.ts';
export type { AgentEvent, AgentHubOptions, SecretResolver } from './options.ts';
