import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { connect, createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface AzuriteOptions {
  /** 0 picks free ports (tests); the local stack uses 10000-10002. */
  blobPort?: number;
  /** Folder for Azurite's data; ignored with inMemory. */
  location?: string;
  inMemory?: boolean;
  /** Serve HTTPS with this PEM certificate and key (file paths) instead of plain HTTP. */
  https?: { cert: string; key: string };
  /**
   * `basic`: also accept bearer tokens (HTTPS only), checking their issuer, audience and lifetime but not
   * their signature, and serve getUserDelegationKey: the managed-identity path, without Azure.
   */
  oauth?: "basic";
  /** Azurite's SQL blob metadata store (`AZURITE_DB`), e.g. `postgres://user:pass@127.0.0.1:5432/db`; LokiJS when absent. */
  blobDatabase?: string;
  log?: (line: string) => void;
}

export interface AzuriteProcess {
  blobPort: number;
  queuePort: number;
  tablePort: number;
  stop(): Promise<void>;
}

/** A port free right now on 127.0.0.1 (bound, read, closed). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      if (child.exitCode !== null) {
        reject(new Error(`Azurite exited with code ${child.exitCode} before listening on ${port}`));
        return;
      }
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve();
      });
      socket.once("error", () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`Azurite did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

/**
 * Preloaded into Azurite so it never outlives us: however our process ends (a normal exit, a crash,
 * SIGKILL), the stdin pipe we hold reaches end-of-file and Azurite shuts itself down the way SIGTERM
 * does, saving its data; if that shutdown hangs, it exits after 10 s. A closed stdout/stderr (our end
 * gone) must not crash it half-way through. The pipe is unref'd so it never keeps Azurite up by itself.
 */
const WATCHDOG = `data:text/javascript,${encodeURIComponent(
  'process.stdout.on("error",()=>{});process.stderr.on("error",()=>{});' +
    'process.stdin.once("end",()=>{process.kill(process.pid,"SIGTERM");setTimeout(()=>process.exit(1),10000).unref();});' +
    "process.stdin.resume();process.stdin.unref();",
)}`;

/**
 * Starts Azurite's CLI as a child process. `require('azurite')` is the VS Code extension entry, so the
 * CLI script is run directly; `--skipApiVersionCheck` because the SDKs send API versions newer than Azurite knows.
 */
export async function startAzurite(options: AzuriteOptions = {}): Promise<AzuriteProcess> {
  const require = createRequire(import.meta.url);
  const cli = join(dirname(require.resolve("azurite/package.json")), "dist", "src", "azurite.js");
  const blobPort = options.blobPort || (await freePort());
  const queuePort = options.blobPort ? options.blobPort + 1 : await freePort();
  const tablePort = options.blobPort ? options.blobPort + 2 : await freePort();
  const args = [
    cli,
    "--blobHost",
    "127.0.0.1",
    "--blobPort",
    String(blobPort),
    "--queueHost",
    "127.0.0.1",
    "--queuePort",
    String(queuePort),
    "--tableHost",
    "127.0.0.1",
    "--tablePort",
    String(tablePort),
    "--skipApiVersionCheck",
    "--loose",
    "--disableTelemetry",
    "--silent",
  ];
  if (options.https) args.push("--cert", options.https.cert, "--key", options.https.key);
  if (options.oauth) args.push("--oauth", options.oauth);
  if (options.inMemory) args.push("--inMemoryPersistence");
  else args.push("--location", options.location ?? ".azurite");
  // Its own process group: a terminal's Ctrl-C (or any signal to our group) reaches only us, and we stop
  // Azurite last, after the workers have finished or handed back their messages. Not unref'd: it is
  // stopped explicitly, and the watchdog above ends it if we exit without doing so.
  const env = options.blobDatabase ? { ...process.env, AZURITE_DB: options.blobDatabase } : process.env;
  // Partition-pinned table queries and, persisted, an autosave spaced by what a save costs (scripts/azuriteLoki.cjs says why).
  const preload = ["--require", fileURLToPath(new URL("./azuriteLoki.cjs", import.meta.url))];
  const child = spawn(process.execPath, ["--import", WATCHDOG, ...preload, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
    windowsHide: true,
    env,
  });
  const log = options.log;
  // One call per line, so a caller's prefix lands on each (a chunk often holds several).
  const forward = (chunk: Buffer) =>
    chunk
      .toString()
      .split(/\r?\n/)
      .filter((line) => line.trim())
      .forEach((line) => log?.(line));
  child.stdout?.on("data", forward);
  child.stderr?.on("data", forward);
  try {
    await Promise.all([blobPort, queuePort, tablePort].map((port) => waitForPort(port, child, 30_000)));
  } catch (error) {
    child.kill("SIGTERM");
    throw error;
  }
  return {
    blobPort,
    queuePort,
    tablePort,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill("SIGTERM");
      }),
  };
}
