import type { BlobServiceClient, CorsRule } from "@azure/storage-blob";
import { QUEUE_NAMES, TABLE_NAMES, type AppConfig } from "../config.js";
import { poisonQueueName } from "../queue/storageQueue.js";
import type { StorageClients } from "./clients.js";
import { statusOf } from "./tableErrors.js";

/** Creates every table, container and queue the app uses; safe to run on every start. */
export async function provisionStorage(config: AppConfig, clients: StorageClients, options: { queues: boolean }): Promise<void> {
  await Promise.all([
    ...TABLE_NAMES.map(async (name) => {
      try {
        await clients.tableService.createTable(config.table(name));
      } catch (error) {
        if (statusOf(error) !== 409) throw error;
      }
    }),
    clients.blobService.getContainerClient(config.imageContainer).createIfNotExists(),
    clients.blobService.getContainerClient(config.exportContainer).createIfNotExists(),
    ...(options.queues
      ? QUEUE_NAMES.flatMap((name) => [
          clients.queueService.getQueueClient(config.queue(name)).createIfNotExists(),
          clients.queueService.getQueueClient(poisonQueueName(config.queue(name))).createIfNotExists(),
        ])
      : []),
  ]);
  // The console (served by the local host) uploads to dropbox SAS URLs and reads mask zips from the browser.
  if (config.settings.PORT && isLoopback(clients.blobService.url)) {
    await allowConsoleOrigins(clients.blobService, [`http://localhost:${config.settings.PORT}`, `http://127.0.0.1:${config.settings.PORT}`]);
  }
}

const isLoopback = (url: string) => ["127.0.0.1", "localhost", "[::1]"].includes(new URL(url).hostname);

/**
 * Blob CORS for the console's origins only (Azurite; infra/modules/storage.bicep sets the same rule in Azure):
 * block uploads to the dropbox SAS (PUT) and ranged reads of export files (GET). Other rules are kept; an
 * earlier rule for these origins is replaced.
 */
export async function allowConsoleOrigins(blobService: BlobServiceClient, origins: string[]): Promise<void> {
  const properties = await blobService.getProperties();
  const mine = new Set(origins.map((o) => o.toLowerCase()));
  const others = (properties.cors ?? []).filter((rule) => !rule.allowedOrigins.split(",").some((o) => mine.has(o.trim().toLowerCase())));
  const rule: CorsRule = {
    allowedOrigins: origins.join(","),
    allowedMethods: "GET,HEAD,PUT,OPTIONS",
    allowedHeaders: "x-ms-*,content-type,content-length,range,if-match,if-none-match",
    exposedHeaders: "x-ms-*,content-length,content-range,content-type,etag,last-modified",
    maxAgeInSeconds: 3600,
  };
  await blobService.setProperties({ cors: [...others, rule] });
}
