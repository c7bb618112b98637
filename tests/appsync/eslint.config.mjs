// ESLint for the APPSYNC_JS resolvers in appsync/: AWS's plugin with its `recommended`
// rules (the runtime's restrictions; the TypeScript-aware ones, such as disallowed
// methods and recursion, read the resolvers through tsconfig.json here).
// Run from the repository root: `eslint -c tests/appsync/eslint.config.mjs appsync/`
// (with -c, paths are relative to the working directory).
import appsync from '@aws-appsync/eslint-plugin';

export default [
  {
    files: ['appsync/**/*.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      parserOptions: {
        projectService: false,
        project: ['tests/appsync/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname + '/../..',
      },
    },
  },
  { ...appsync.configs.recommended, files: ['appsync/**/*.js'] },
];
