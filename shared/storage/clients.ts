import { TableClient, TableServiceClient } from "@azure/data-tables";
import { DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import { BlobServiceClient } from "@azure/storage-blob";
import { QueueServiceClient } from "@azure/storage-queue";
import type { AppConfig, TableName } from "../config.js";

/** SDK clients for the configured account: a connection string (Azurite, tests) or the managed identity (Azure). */
export interface StorageClients {
  readonly blobService: BlobServiceClient;
  readonly queueService: QueueServiceClient;
  readonly tableService: TableServiceClient;
  table(name: TableName): TableClient;
}

export function createStorageClients(config: AppConfig, credential?: TokenCredential): StorageClients {
  const { STORAGE_CONNECTION_STRING: connectionString, STORAGE_ACCOUNT_NAME: account } = config.settings;
  const tables = new Map<TableName, TableClient>();
  if (connectionString) {
    // Azurite speaks plain HTTP; the tables SDK refuses that unless told.
    const insecure = { allowInsecureConnection: connectionString.includes("http://") };
    const tableService = TableServiceClient.fromConnectionString(connectionString, insecure);
    return {
      blobService: BlobServiceClient.fromConnectionString(connectionString),
      queueService: QueueServiceClient.fromConnectionString(connectionString),
      tableService,
      table(name) {
        let client = tables.get(name);
        if (!client) {
          client = TableClient.fromConnectionString(connectionString, config.table(name), insecure);
          tables.set(name, client);
        }
        return client;
      },
    };
  }
  const identity = credential ?? new DefaultAzureCredential();
  const tableUrl = `https://${account}.table.core.windows.net`;
  return {
    blobService: new BlobServiceClient(`https://${account}.blob.core.windows.net`, identity),
    queueService: new QueueServiceClient(`https://${account}.queue.core.windows.net`, identity),
    tableService: new TableServiceClient(tableUrl, identity),
    table(name) {
      let client = tables.get(name);
      if (!client) {
        client = new TableClient(tableUrl, config.table(name), identity);
        tables.set(name, client);
      }
      return client;
    },
  };
}
