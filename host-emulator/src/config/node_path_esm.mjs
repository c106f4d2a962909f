// Lambda's Node runtimes (18 and later) look for an ES module's bare imports in the
// `node_modules` directories of NODE_PATH (a layer's `nodejs/node_modules`) too, once Node's
// own search has failed; Node follows NODE_PATH only for require(). Firebox loads this module
// with --import for a nodejs* function whose NODE_PATH names such a directory.
import * as module from 'node:module';
import { pathToFileURL } from 'node:url';

// A module in each directory, from which Node's search finds that directory's packages.
const parents = (process.env.NODE_PATH || '')
  .split(':')
  .filter((dir) => /(^|\/)node_modules\/*$/.test(dir))
  .map((dir) => pathToFileURL(dir.replace(/\/*$/, '/')).href);
// A package name: not a relative or absolute path, an import map key or a URL (`node:fs`).
const bare = (specifier) => !/^([./#]|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(specifier);

if (parents.length > 0 && typeof module.registerHooks === 'function') {
  // Node 22.15 and later: a hook in this thread.
  module.registerHooks({
    resolve(specifier, context, next) {
      try {
        return next(specifier, context);
      } catch (error) {
        if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !bare(specifier)) throw error;
        for (const parentURL of parents) {
          try {
            return next(specifier, { ...context, parentURL });
          } catch (found) {
            // Found there, but not importable as asked (a path its `exports` do not offer):
            // that error says more than "cannot find package".
            if (found?.code !== 'ERR_MODULE_NOT_FOUND') throw found;
          }
        }
        throw error;
      }
    },
  });
} else if (parents.length > 0 && typeof module.register === 'function') {
  // Older: the same hook, asynchronous, on the loader's own thread.
  const hook = `const parents = ${JSON.stringify(parents)};
const bare = ${bare};
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !bare(specifier)) throw error;
    for (const parentURL of parents) {
      try {
        return await next(specifier, { ...context, parentURL });
      } catch (found) {
        if (found?.code !== 'ERR_MODULE_NOT_FOUND') throw found;
      }
    }
    throw error;
  }
}`;
  module.register(`data:text/javascript,${encodeURIComponent(hook)}`);
}
