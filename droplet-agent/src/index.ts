/** Placeholder until this room is built; see docs/architecture.md. */
export {};
