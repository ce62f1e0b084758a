import { readFileSync } from "node:fs";

/** The package version, read once from package.json next to the app. */
export const APP_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    try {
      return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
    } catch {
      return "unknown";
    }
  }
})();
