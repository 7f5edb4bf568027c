/**
 * toolbelt's state store: tables, migrations, the db factory and typed queries.
 * Imports nothing of ours (see docs/architecture.md).
 */
export * from './agent-sessions.ts';
export * from './agents.ts';
export * from './catalog.ts';
export * from './commands.ts';
export * from './credentials.ts';
export * from './db.ts';
export * from './environments.ts';
export * from './errors.ts';
export * from './events.ts';
export * from './leases.ts';
export * from './spec-changes.ts';
export * from './migrate.ts';
export * from './outcomes.ts';
export * from './raw.ts';
export * from './tables.ts';
export * from './tool-instances.ts';
export * from './types.ts';
export * from './clock.ts';
export * from './api-tokens.ts';
export * from './manifests.ts';
export * from './gateway.ts';
export * from './ids.ts';
export * from './event-stream.ts';
export * from './locks.ts';
export * from './secrets.ts';
export * from './console-sessions.ts';
export * from './host-metrics.ts';
export * from './gitops.ts';
export * from './provisioning-stats.ts';
