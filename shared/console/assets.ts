import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The console's built assets (`npm run build` / `npm start` write them with Vite into `dist/console/`), served
 * by the Function App itself. Only text assets are built (HTML, JS, CSS, SVG), so they travel as strings.
 * Files are read once per process and cached by the index's modification time, so a rebuild under a running
 * local host is picked up on the next request; a cache of files on disk, not state.
 */

/** The repository (or deployment package) root: the nearest folder above this module with a package.json. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return process.cwd();
}

/** Where the built console lives: `<root>/dist/console` both from source (tsx) and from `dist/` (Azure). */
export const consoleAssetsDir = (): string => path.join(packageRoot(), "dist", "console");

/** The console's base path: the Vite build's `base`, the routes of getConsole and getConsoleAsset. */
export const CONSOLE_BASE_PATH = "/api/v1/console/";

export interface ConsoleAsset {
  name: string;
  body: string;
  contentType: string;
  etag: string;
  /** Content-hashed file name: cached for a year. */
  immutable: boolean;
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
};

/** `index-D3adB33f.js`: Vite's content hash before the extension. */
const HASHED = /-[A-Za-z0-9_-]{8,}\.[a-z]+$/;
/** Asset names are flat file names; anything else (slashes, dots-only, control characters) is never looked up. */
export const ASSET_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

let cache: { dir: string; stamp: number; assets: Map<string, ConsoleAsset> } | undefined;

function load(dir: string): Map<string, ConsoleAsset> {
  const assets = new Map<string, ConsoleAsset>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const contentType = CONTENT_TYPES[path.extname(entry.name)];
    if (!entry.isFile() || !contentType || !ASSET_NAME.test(entry.name)) continue;
    const body = readFileSync(path.join(dir, entry.name), "utf8");
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
    assets.set(entry.name, { name: entry.name, body, contentType, etag, immutable: HASHED.test(entry.name) });
  }
  return assets;
}

/** The built assets by file name, or undefined when the console has not been built. */
export function consoleAssets(dir = consoleAssetsDir()): Map<string, ConsoleAsset> | undefined {
  let stamp: number;
  try {
    stamp = statSync(path.join(dir, "index.html")).mtimeMs;
  } catch {
    return undefined;
  }
  if (!cache || cache.dir !== dir || cache.stamp !== stamp) cache = { dir, stamp, assets: load(dir) };
  return cache.assets;
}

/**
 * The console page's Content-Security-Policy: scripts, styles and fonts from the app only (no inline code, no
 * CDN); images and uploads may also reach the blob endpoint, where thumbnails (read SAS) and the dropbox
 * (SAS upload) live. Nothing may frame the page, and forms post nowhere.
 */
export function contentSecurityPolicy(blobOrigin: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "font-src 'self'",
    `img-src 'self' data: blob: ${blobOrigin}`,
    `connect-src 'self' ${blobOrigin}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** Headers every console answer carries. */
export function securityHeaders(): Record<string, string> {
  return {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
  };
}

/** The origin (scheme, host, port) of a blob service URL such as `http://127.0.0.1:10000/devstoreaccount1`. */
export const originOf = (url: string): string => new URL(url).origin;
