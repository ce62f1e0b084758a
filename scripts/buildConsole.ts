/**
 * Builds the web console (console/, Vite) into dist/console/, which the Function App serves at
 * /api/v1/console/. `npm run build` runs it after tsc; `npm start` runs it when the build is missing or
 * older than its sources; `tsx scripts/buildConsole.ts` runs it alone.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { consoleAssetsDir } from "../shared/console/assets.js";

const root = fileURLToPath(new URL("../", import.meta.url));
const sourceDir = path.join(root, "console");

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(file) : statSync(file).mtimeMs);
  }
  return newest;
}

/** Whether dist/console holds a build at least as new as every file under console/. */
export function consoleBuildIsCurrent(): boolean {
  const index = path.join(consoleAssetsDir(), "index.html");
  if (!existsSync(index)) return false;
  return !existsSync(sourceDir) || statSync(index).mtimeMs >= newestSource(sourceDir);
}

export async function buildConsole(): Promise<void> {
  const { build } = await import("vite");
  await build({ configFile: path.join(sourceDir, "vite.config.ts"), logLevel: "warn" });
}

/** For `npm start`: builds the console when its build is missing or stale; says where it is either way. */
export async function ensureConsoleBuilt(log: (line: string) => void): Promise<void> {
  if (consoleBuildIsCurrent()) return;
  if (!existsSync(sourceDir)) return log("console: no sources and no build; the console is not served");
  const started = Date.now();
  log("console: building the web console (Vite)…");
  await buildConsole();
  log(`console: built into ${path.relative(root, consoleAssetsDir())}/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await buildConsole();
}
