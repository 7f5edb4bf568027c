/**
 * `@toolbelt/schema/protocol`: the droplet agent's wire protocol (zod schemas, codes,
 * parse/encode). Imports only zod, so the agent can load it without the database code.
 */
export * from './protocol/index.ts';
