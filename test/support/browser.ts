import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

/**
 * Debian's Chromium driven by playwright-core (no browser download: `npx playwright install` cannot work
 * here). `.ci/run` installs the `chromium` package (and fonts) when it is missing.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export const chromiumInstalled = () => existsSync(CHROMIUM_PATH);

export async function launchChromium(): Promise<Browser> {
  if (!chromiumInstalled()) {
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: install it with \`apt-get install chromium fonts-dejavu-core\` (as .ci/run does) or set CHROMIUM_PATH`);
  }
  // playwright gives every launch a fresh temporary profile (--user-data-dir) and adds --headless.
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--no-first-run",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
    ],
  });
}
