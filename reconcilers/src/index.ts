/**
 * toolbelt's reconcilers and the DigitalOcean provider they act through.
 * Imports only `@toolbelt/schema` (see DESIGN.md, Rooms).
 */
export * from './provider/index.ts';
