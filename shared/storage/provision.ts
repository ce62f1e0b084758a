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
}
