/**
 * `npm start`'s command line, read from package.json, for the test and the bench that run the local stack
 * as a child process exactly as `npm start` does (its Node flags included) without npm's own process in between.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface NpmStartCommand {
  /** The Node binary running this process (the script's `node`). */
  command: string;
  args: string[];
  /** Where it runs: the repository root. */
  cwd: string;
}

/** The `start` script as a command for `child_process.spawn`; it must begin with `node` (no shell needed). */
export function npmStartCommand(extraArgs: readonly string[] = []): NpmStartCommand {
  const script = (JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts.start;
  const [program, ...args] = script?.trim().split(/\s+/) ?? [];
  if (program !== "node") throw new Error(`package.json's start script should run node directly, not ${JSON.stringify(script)}`);
  return { command: process.execPath, args: [...args, ...extraArgs], cwd: root };
}
