import type { TestProject } from "vitest/node";
import { startAzurite, type AzuriteProcess } from "../../scripts/azurite.js";
import { ensureConsoleBuilt } from "../../scripts/buildConsole.js";
import { azuriteConnectionString } from "../../shared/config.js";

let azurite: AzuriteProcess | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The console is built once, before any test file runs: the console test serves it, and every `npm start`
  // a test runs would otherwise build it too when missing or stale, two Vite builds emptying one folder at once.
  // Ports away from `npm start`'s 10000-10002 so tests run beside a running local stack.
  [azurite] = await Promise.all([startAzurite({ blobPort: 0, inMemory: true }), ensureConsoleBuilt(() => undefined)]);
  const connectionString = azuriteConnectionString("127.0.0.1", azurite.blobPort, azurite.queuePort, azurite.tablePort);
  process.env.TEST_STORAGE_CONNECTION_STRING = connectionString;
  project.provide("storageConnectionString", connectionString);
  return async () => {
    await azurite?.stop();
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    storageConnectionString: string;
  }
}
