/**
 * A stand-in for the module the Functions host's Node worker provides to the app. `@azure/functions` requires it
 * (by this name) and hands it each registration: the function's name, its bindings exactly as the host would index
 * them, and the handler. Put this folder on NODE_PATH and the library registers here instead of running in test
 * mode; test/support/registrations.ts prints what was recorded.
 */
const registrations = [];

module.exports = {
  registrations,
  setProgrammingModel() {},
  registerFunction(metadata, callback) {
    registrations.push({ metadata, handler: typeof callback });
    return { dispose() {} };
  },
  registerHook() {
    return { dispose() {} };
  },
  log() {},
};
