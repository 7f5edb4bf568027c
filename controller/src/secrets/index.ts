export * from './envelope.ts';
export * from './keyring.ts';
export * from './rotate.ts';
export * from './store.ts';
