// Module hooks for the resolver tests (node --import ./register.mjs): the resolvers in
// appsync/ sit outside this package, so node would neither find `@aws-appsync/utils` from
// there (it is installed here) nor know that they are ES modules (no package.json of
// theirs says so). AppSync reads them as ES modules that import that one package. The
// pages' modules in web/ (pages.test.js) are ES modules for the same reason.
const HERE = import.meta.url;

export async function resolve(specifier, context, next) {
  if (specifier === '@aws-appsync/utils' || specifier.startsWith('@aws-appsync/utils/')) {
    return next(specifier, { ...context, parentURL: HERE });
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (url.startsWith('file:') && /\/(appsync|web)\/[^/]+\.js$/.test(url) && !url.includes('/node_modules/') && !url.includes('/tests/appsync/')) {
    return next(url, { ...context, format: 'module' });
  }
  return next(url, context);
}
