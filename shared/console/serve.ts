import { notFound } from "../errors.js";
import type { ResponseInit } from "../http/request.js";
import type { Services } from "../services.js";
import { ASSET_NAME, consoleAssets, contentSecurityPolicy, originOf, securityHeaders } from "./assets.js";

/**
 * One console file as an HTTP answer: the page with its Content-Security-Policy and `no-cache` (so a new build
 * is seen at once), hashed assets cached for a year. An ETag match answers 304. A name that is not a built
 * file is a 404 with a JSON detail, like every other refusal.
 */
export function consoleFile(services: Services, name: string, ifNoneMatch: string | null): ResponseInit {
  const assets = consoleAssets();
  if (!assets) throw notFound("the console is not built here: run `npm run build` (npm start builds it when missing)");
  const asset = ASSET_NAME.test(name) ? assets.get(name) : undefined;
  if (!asset) throw notFound(`the console has no file ${JSON.stringify(name.slice(0, 100))}`);
  const headers: Record<string, string> = {
    ...securityHeaders(),
    "Content-Type": asset.contentType,
    ETag: asset.etag,
    "Cache-Control": asset.immutable ? "public, max-age=31536000, immutable" : "no-cache",
  };
  if (name === "index.html") headers["Content-Security-Policy"] = contentSecurityPolicy(originOf(services.clients.blobService.url));
  if (ifNoneMatch && ifNoneMatch.split(",").some((tag) => tag.trim() === asset.etag)) return { status: 304, headers };
  return { status: 200, headers, body: asset.body };
}
