import { request } from "node:http";
import type { TableClient } from "@azure/data-tables";
import type { AppConfig, TableName } from "../../shared/config.js";
import { TABLE_NAMES } from "../../shared/config.js";
import type { Services } from "../../shared/services.js";

/**
 * Uploads through a dropbox SAS URL with the blob name sent exactly as given (no URL normalisation, no
 * encoding): what a hostile client with `curl --path-as-is` can do. Returns the HTTP status.
 */
export function rawUpload(dropboxUrl: string, rawName: string, bytes: Buffer | string): Promise<number> {
  const url = new URL(dropboxUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: "PUT",
        path: `${url.pathname}/${rawName}${url.search}`,
        headers: { "x-ms-blob-type": "BlockBlob", "content-length": Buffer.byteLength(bytes) },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(bytes);
  });
}

/** Every entity of the stack's tables, without timestamps and ETags, as sorted JSON lines: equal snapshots mean nothing was written. */
export async function tableSnapshot(services: Services, tables: readonly TableName[] = TABLE_NAMES): Promise<string[]> {
  const lines: string[] = [];
  for (const name of tables) {
    const client: TableClient = services.clients.table(name);
    try {
      for await (const entity of client.listEntities<Record<string, unknown>>()) {
        const { etag: _etag, timestamp: _timestamp, ...rest } = entity as Record<string, unknown>;
        lines.push(`${name} ${JSON.stringify(rest)}`);
      }
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    }
  }
  return lines.sort();
}

/** Names of every blob in the stack's containers (prefix-owned). */
export async function blobSnapshot(services: Services, config: AppConfig): Promise<string[]> {
  const names: string[] = [];
  for await (const container of services.clients.blobService.listContainers({ prefix: config.prefix })) {
    for await (const blob of services.clients.blobService.getContainerClient(container.name).listBlobsFlat()) names.push(`${container.name}/${blob.name}`);
  }
  return names.sort();
}

/** Counts the HTTP requests a table client sends, from now until `stop()`. */
export function countRequests(client: TableClient): { readonly count: number; stop(): void } {
  const counter = { count: 0, stop: () => client.pipeline.removePolicy({ name: policyName }) };
  const policyName = `count-requests-${Math.random()}`;
  client.pipeline.addPolicy({
    name: policyName,
    sendRequest: (req, next) => {
      counter.count++;
      return next(req);
    },
  });
  return counter;
}
