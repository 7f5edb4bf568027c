// Lint keeps files and functions small (STYLE.md lessons 2 and 15) and catches the usual
// TypeScript mistakes. Tests may have longer functions (a describe block is one function).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '.toolbelt/**', '**/drizzle/**', '**/.turbo/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: {
      'max-lines': ['error', { max: 400, skipBlankLines: true, skipComments: true }],
      'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }],
      complexity: ['error', 12],
      'max-depth': ['error', 4],
      'max-params': ['error', 4],
      'no-console': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // The console runs in the browser.
    files: ['console/src/**'],
    languageOptions: {
      globals: {
        window: 'readonly', document: 'readonly', location: 'readonly', history: 'readonly', fetch: 'readonly',
        EventSource: 'readonly', addEventListener: 'readonly', setInterval: 'readonly', clearInterval: 'readonly',
        HTMLElement: 'readonly', HTMLInputElement: 'readonly', HTMLSelectElement: 'readonly', HTMLTextAreaElement: 'readonly',
        HTMLDialogElement: 'readonly', MouseEvent: 'readonly', MessageEvent: 'readonly', Event: 'readonly', Response: 'readonly',
        URLSearchParams: 'readonly', AbortController: 'readonly',
      },
    },
  },
  {
    files: ['**/test/**', '**/*.test.ts', '**/bench/**', '**/*.bench.ts'],
    rules: { 'max-lines-per-function': 'off', 'max-lines': ['error', { max: 600 }] },
  },
);
