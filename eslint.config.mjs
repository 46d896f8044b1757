// Lint rules that matter here: strict typing (no stray `any`), no floating or misused promises
// anywhere (type-aware: each file is linted with the tsconfig that compiles it), and the cache
// rule the product depends on is enforced by a test, not a lint.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/src/gen/**', 'deploy/local/target/**', '.stack/**', 'coverage/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      // The project service finds each file's tsconfig.json, as the editor does.
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // A promise nobody awaits loses its rejection (an unhandled rejection ends the process)
      // and its ordering; `void` marks the ones that are fire-and-forget on purpose.
      '@typescript-eslint/no-floating-promises': 'error',
      // An async callback where a void one is expected (event handlers, setInterval) drops its
      // rejection the same way.
      '@typescript-eslint/no-misused-promises': 'error',
      'no-console': 'off',
    },
  },
);
