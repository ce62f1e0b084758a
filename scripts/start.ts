/**
 * `npm start`: the whole local stack with no configuration. Starts Azurite (data in .azurite/, kept
 * across restarts; `npm start -- --clean` or AZURITE_CLEAN=1 starts from an empty store), creates
 * the tables, containers and queues, makes sure the local admin exists, serves the HTTP functions on
 * http://localhost:7071/api/v1 and runs the queue workers. Ctrl-C stops all of it, Azurite included.
 */
import { rm } from "node:fs/promises";
import { startAzurite } from "./azurite.js";
import { startLocalHost } from "./localHost.js";
import { azuriteConnectionString, loadConfig } from "../shared/config.js";

const clean = process.argv.includes("--clean") || process.env.AZURITE_CLEAN === "1";
const location = process.env.AZURITE_LOCATION ?? ".azurite";
const log = (line: string) => console.log(line);

async function main(): Promise<void> {
  const external = Boolean(process.env.STORAGE_CONNECTION_STRING || process.env.STORAGE_ACCOUNT_NAME);
  let azurite: Awaited<ReturnType<typeof startAzurite>> | undefined;
  if (!external) {
    if (clean) await rm(location, { recursive: true, force: true });
    azurite = await startAzurite({ blobPort: 10000, location, log: (line) => log(`[azurite] ${line}`) });
    log(`Azurite: blob http://127.0.0.1:10000, queue :10001, table :10002 (data in ${location}${clean ? ", started clean" : ""})`);
  }
  const config = loadConfig({ ...process.env, STORAGE_CONNECTION_STRING: process.env.STORAGE_CONNECTION_STRING || (external ? undefined : azuriteConnectionString()) });
  const host = await startLocalHost({ config, log });
  const { LOCAL_ADMIN_KEY, LOCAL_ADMIN_SECRET, LOCAL_ADMIN_EMAIL } = config.settings;
  await host.services.users.putUser(LOCAL_ADMIN_KEY, LOCAL_ADMIN_SECRET, "image-admin", LOCAL_ADMIN_EMAIL);
  log(`API: http://localhost:${host.port}/api/v1 (OpenAPI: /api/v1/openapi.json)`);
  log(`Admin: Authentication-Key: ${LOCAL_ADMIN_KEY}  Authentication-Secret: ${LOCAL_ADMIN_SECRET}`);
  log(`Workers: ${config.settings.QUEUE_TRANSPORT} queues, up to ${config.settings.MAX_DELIVERY_COUNT} deliveries before the -poison queue`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    log("stopping...");
    await host.stop();
    await azurite?.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
