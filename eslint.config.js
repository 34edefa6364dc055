import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', '.tap/', 'coverage/', 'test-artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-globals': ['error', { name: 'parseFloat', message: 'Money never passes through a JavaScript number (calculation-rules.md §1).' }],
      'no-restricted-properties': ['error', { object: 'Number', property: 'parseFloat', message: 'Money never passes through a JavaScript number.' }],
    },
  },
  {
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['fastify', '@fastify/*', 'kysely', 'pg', '@electric-sql/*', 'node:*'] }],
      'no-restricted-syntax': ['error', { selector: 'CallExpression[callee.property.name="toNumber"]', message: 'The domain stays in Decimal.' }],
    },
  },
)
