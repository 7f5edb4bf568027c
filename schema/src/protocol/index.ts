/**
 * The droplet agent's wire protocol, defined once and imported by both ends
 * (`@toolbelt/schema/protocol`). See docs/agent.md for the message table and codes.
 */
export * from './constants.ts';
export * from './tool.ts';
export * from './env-names.ts';
export * from './agent-messages.ts';
export * from './controller-messages.ts';
export * from './gateway.ts';
export * from './parse.ts';
export * from './limits.ts';
