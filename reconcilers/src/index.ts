/**
 * Reconcilers, one file per kind, and the contract the controller's loop runs them by.
 * Imports only `@toolbelt/schema` (see docs/architecture.md).
 */
export * from './contract.ts';
