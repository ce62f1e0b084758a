/**
 * `npm start`: the whole local stack with no configuration. Starts Azurite (data in .azurite/, kept
 * across restarts; `npm start -- --clean` or AZURITE_CLEAN=1 starts from an empty store), creates
 * the tables, containers and queues, makes sure the local admin exists, serves the HTTP functions on
 * http://localhost:7071/api/v1 and runs the queue workers. Ctrl-C stops all of it, Azurite included:
 * the workers first (jobs in flight finish or hand their messages back), Azurite last.
 *
 * `npm start -- --storage-only` starts and provisions the storage alone, for the real Functions host
 * (`func start`) to serve against.
 *
 * PORT (HTTP, 7071), AZURITE_BLOB_PORT (10000; queue and table on the next two) and AZURITE_LOCATION
 * (.azurite) let a second stack run beside this one.
 *
 * package.json runs it as `node --max-old-space-size=512 --max-semi-space-size=4 --import tsx`: V8 sizes
 * its first full collections from the heap limit, which on a large machine is several gigabytes, so a
 * streamed export holding ~50 MB live let the host grow to ~700 MB before collecting; with a 512 MB limit the
 * same export peaks near 200 MB (bench/scale.ts measures it). 512 MB is well above any job's live memory and
 * a 16 MB request body parsed. Azurite and PostgreSQL are separate processes with their own memory.
 */
import { rm } from "node:fs/promises";
import { startAzurite, type AzuriteProcess } from "./azurite.js";
import { startLocalHost, type LocalHost } from "./localHost.js";
import { startPostgres, type PostgresProcess } from "./postgres.js";
import { ensureConsoleBuilt } from "./buildConsole.js";
import { azuriteConnectionString, loadConfig } from "../shared/config.js";
import { createServices } from "../shared/services.js";
import { provisionStorage } from "../shared/storage/provision.js";

const clean = process.argv.includes("--clean") || process.env.AZURITE_CLEAN === "1";
const storageOnly = process.argv.includes("--storage-only");
const location = process.env.AZURITE_LOCATION ?? ".azurite";
/** How long jobs in flight may run on after Ctrl-C before their messages are handed back. */
const STOP_GRACE_MS = 5000;
/**
 * A repeat of the signal within this window is the same stop, not a second one: behind a wrapper (npm, tsx's
 * CLI) a group signal can reach this process twice (once directly, once relayed by the wrapper).
 */
const SAME_SIGNAL_MS = 1000;
const log = (line: string) => console.log(line);

/**
 * Azurite's blob metadata store: `sql` (default) keeps it in a PostgreSQL server from the npm registry,
 * so blob operations stay as fast at 100,000 blobs as at 100; `loki` is Azurite's own in-process store.
 */
const blobStore = process.env.AZURITE_BLOB_STORE ?? "sql";

let azurite: AzuriteProcess | undefined;
let postgres: PostgresProcess | undefined;
let host: LocalHost | undefined;

function azuriteBlobPort(): number {
  const text = process.env.AZURITE_BLOB_PORT ?? "10000";
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65533)
    throw new Error(`AZURITE_BLOB_PORT must be a port number up to 65533 (queue and table take the next two), not ${JSON.stringify(text)}`);
  return port;
}

async function main(): Promise<void> {
  const external = Boolean(process.env.STORAGE_CONNECTION_STRING || process.env.STORAGE_ACCOUNT_NAME);
  let connectionString = process.env.STORAGE_CONNECTION_STRING || undefined;
  if (!external) {
    const blobPort = azuriteBlobPort();
    if (clean) await rm(location, { recursive: true, force: true });
    if (blobStore !== "sql" && blobStore !== "loki") throw new Error(`AZURITE_BLOB_STORE is sql or loki, not ${JSON.stringify(blobStore)}`);
    if (blobStore === "sql") postgres = await startPostgres({ location, port: blobPort + 3, log });
    azurite = await startAzurite({ blobPort, location, blobDatabase: postgres?.url, log: (line) => log(`[azurite] ${line}`) });
    connectionString = azuriteConnectionString("127.0.0.1", azurite.blobPort, azurite.queuePort, azurite.tablePort);
    log(
      `Azurite: blob http://127.0.0.1:${azurite.blobPort}, queue :${azurite.queuePort}, table :${azurite.tablePort} (data in ${location}${clean ? ", started clean" : ""}; ` +
        `blob metadata in ${postgres ? `PostgreSQL on :${blobPort + 3}` : "LokiJS"})`,
    );
  }
  const config = loadConfig({
    ...process.env,
    STORAGE_CONNECTION_STRING: connectionString,
    // Local development: webhooks may go to a receiver on this machine or the local network (set it to false to try the refusal).
    WEBHOOK_ALLOW_PRIVATE_TARGETS: process.env.WEBHOOK_ALLOW_PRIVATE_TARGETS ?? "true",
  });
  if (storageOnly) {
    // What the local host would provision, without serving: `func start` serves and runs the workers.
    const services = createServices(config);
    await provisionStorage(config, services.clients, { queues: true });
    await services.users.putUser(config.settings.LOCAL_ADMIN_KEY, config.settings.LOCAL_ADMIN_SECRET, "image-admin", config.settings.LOCAL_ADMIN_EMAIL);
    log(`Storage ready (tables, containers, queues, the local admin). Serve it with the Functions host: npm run build && func start`);
    log(`Admin: Authentication-Key: ${config.settings.LOCAL_ADMIN_KEY}  Authentication-Secret: ${config.settings.LOCAL_ADMIN_SECRET}`);
    return;
  }
  await ensureConsoleBuilt(log);
  host = await startLocalHost({ config, log });
  const { LOCAL_ADMIN_KEY, LOCAL_ADMIN_SECRET, LOCAL_ADMIN_EMAIL } = config.settings;
  await host.services.users.putUser(LOCAL_ADMIN_KEY, LOCAL_ADMIN_SECRET, "image-admin", LOCAL_ADMIN_EMAIL);
  log(`API: http://localhost:${host.port}/api/v1 (OpenAPI: /api/v1/openapi.json)`);
  log(`Console: http://localhost:${host.port}/api/v1/console/`);
  log(`Admin: Authentication-Key: ${LOCAL_ADMIN_KEY}  Authentication-Secret: ${LOCAL_ADMIN_SECRET}`);
  log(`Workers: ${config.settings.QUEUE_TRANSPORT} queues, up to ${config.settings.MAX_DELIVERY_COUNT} deliveries before the -poison queue`);
}

/** The host first (no new work; jobs in flight finish or go back to their queue), then Azurite, whose data they use. */
async function shutdown(): Promise<void> {
  await host?.stop({ graceMs: STOP_GRACE_MS });
  if (azurite) {
    log("stopping Azurite");
    await azurite.stop();
    log("Azurite stopped");
  }
  await postgres?.stop();
}

let firstSignalAt: number | undefined;
function onSignal(signal: NodeJS.Signals): void {
  if (firstSignalAt !== undefined) {
    if (Date.now() - firstSignalAt < SAME_SIGNAL_MS) return;
    // Azurite is told to stop by its exit hook, PostgreSQL on the next start; whatever was in flight is
    // redelivered after its lock ends.
    log(`${signal} again: exiting now`);
    process.exit(1);
  }
  firstSignalAt = Date.now();
  log(`${signal}: stopping (send it again to exit at once)`);
  shutdown().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(`stopping failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}

// From the very start, so a signal during start-up stops what has started instead of killing us mid-way.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, onSignal);

main().catch(async (error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  await azurite?.stop();
  await postgres?.stop();
  process.exit(1);
});
