/**
 * The console's build: `npm run build` (and `npm start` when missing) writes content-hashed files, flat, into
 * dist/console/, which the Function App serves at /api/v1/console/ (functions/getConsole.ts, getConsoleAsset.ts).
 * No plugin: esbuild compiles the TSX for Preact (jsxImportSource in tsconfig.json).
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here("."),
  base: "/api/v1/console/",
  publicDir: false,
  logLevel: "warn",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: here("../dist/console"),
    emptyOutDir: true,
    assetsDir: "",
    target: "es2022",
    modulePreload: { polyfill: false },
    // Every asset a file of its own (the CSP allows no inline data: scripts or styles).
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    sourcemap: false,
    reportCompressedSize: false,
  },
});
