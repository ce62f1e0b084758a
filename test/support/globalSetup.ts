import type { TestProject } from "vitest/node";
import { startAzurite, type AzuriteProcess } from "../../scripts/azurite.js";
import { azuriteConnectionString } from "../../shared/config.js";

let azurite: AzuriteProcess | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Ports away from `npm start`'s 10000-10002 so tests run beside a running local stack.
  azurite = await startAzurite({ blobPort: 0, inMemory: true });
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
