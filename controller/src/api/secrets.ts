/**
 * The seam for secret values: the API takes values in and never gives them out; the store
 * (controller/src/secrets: envelope encryption in Postgres, or Supabase Vault) keeps them.
 * The controller passes one in the API's options; without one the secret routes answer 501.
 */
export type { SecretMetadata, SecretStore } from '../secrets/store.ts';
