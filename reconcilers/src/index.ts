/**
 * Reconcilers, one file per kind, the contract the controller's loop runs them by, and the
 * DigitalOcean provider they act through. Imports only `@toolbelt/schema` (see
 * docs/architecture.md).
 */
export * from './contract.ts';
export * from './provider/index.ts';
export * from './fleet.ts';
export * from './environment/index.ts';
export * from './firewall.ts';
export * from './orphans.ts';
export * from './tools/index.ts';
