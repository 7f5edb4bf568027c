/**
 * toolbelt's reconcilers, the contract the controller's loop runs them by, and the
 * DigitalOcean provider they act through. Imports only `@toolbelt/schema` (see DESIGN.md, Rooms).
 */
export * from './contract.ts';
export * from './provider/index.ts';
