/**
 * Loads the app as the Functions host does (functions/index.ts, package.json "main") and prints, as JSON, what it
 * registered through `@azure/functions`, next to the function lists the local host serves. Run it with NODE_PATH set
 * to test/support/functionsHost, whose stand-in `@azure/functions-core` records every registration, and with the app
 * settings under test in the environment (they are read at registration).
 */
import { createRequire } from "node:module";
import { httpFunctions, workerFunctions } from "../../functions/index.js";

const core = createRequire(import.meta.url)("@azure/functions-core") as { registrations: unknown[] };
process.stdout.write(
  JSON.stringify({
    registrations: core.registrations,
    httpFunctions: httpFunctions.map(({ name, route, methods }) => ({ name, route, methods })),
    workerFunctions: workerFunctions.map(({ name, type }) => ({ name, type })),
  }),
);
