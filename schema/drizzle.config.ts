import { defineConfig } from 'drizzle-kit';

// `npm run db:generate` writes SQL migrations from src/tables.ts into drizzle/.
export default defineConfig({
  dialect: 'postgresql',
  schema: './schema/src/tables.ts',
  out: './schema/drizzle',
});
