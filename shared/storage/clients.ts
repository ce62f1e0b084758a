import { TableClient, TableServiceClient, type TableServiceClientOptions } from "@azure/data-tables";
import { DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import { BlobServiceClient, type StoragePipelineOptions as BlobPipelineOptions } from "@azure/storage-blob";
import { QueueServiceClient, type StoragePipelineOptions as QueuePipelineOptions } from "@azure/storage-queue";
import type { AppConfig, TableName } from "../config.js";

/** SDK clients for the configured account: a connection string (Azurite, tests) or the managed identity (Azure). */
export interface StorageClients {
  readonly blobService: BlobServiceClient;
  readonly queueService: QueueServiceClient;
  readonly tableService: TableServiceClient;
  table(name: TableName): TableClient;
}

export interface StorageClientOptions {
  /**
   * PEM certificates to trust besides the system's, for HTTPS endpoints with a private certificate
   * (Azurite over HTTPS in the managed-identity test). Verification stays on.
   */
  ca?: string | Buffer;
}

/** Core's pipeline option that the storage packages pass on but do not declare. */
type WithTls<T> = T & Pick<TableServiceClientOptions, "tlsOptions">;

/** The identity endpoints: the settings' when set (Azurite), else the account's public ones. */
export function storageEndpoints(config: AppConfig): { blob: string; queue: string; table: string } {
  const { STORAGE_ACCOUNT_NAME: account, STORAGE_BLOB_ENDPOINT, STORAGE_QUEUE_ENDPOINT, STORAGE_TABLE_ENDPOINT } = config.settings;
  return {
    blob: STORAGE_BLOB_ENDPOINT ?? `https://${account}.blob.core.windows.net`,
    queue: STORAGE_QUEUE_ENDPOINT ?? `https://${account}.queue.core.windows.net`,
    table: STORAGE_TABLE_ENDPOINT ?? `https://${account}.table.core.windows.net`,
  };
}

/**
 * The clients for the configured account: from STORAGE_CONNECTION_STRING when set, else the account's
 * endpoints with `credential` (default DefaultAzureCredential). Creates nothing in the account; table clients are made once per name.
 */
export function createStorageClients(config: AppConfig, credential?: TokenCredential, options: StorageClientOptions = {}): StorageClients {
  const { STORAGE_CONNECTION_STRING: connectionString } = config.settings;
  // Every Azure client hands its options on to core's createClientPipeline, which applies `tlsOptions`
  // to each request. The storage packages' option types leave that field out, hence WithTls.
  const tlsOptions = options.ca === undefined ? undefined : { ca: options.ca };
  const blobOptions: WithTls<BlobPipelineOptions> = { tlsOptions };
  const queueOptions: WithTls<QueuePipelineOptions> = { tlsOptions };
  const tableOptions: TableServiceClientOptions = { tlsOptions };
  const tables = new Map<TableName, TableClient>();
  if (connectionString) {
    // Azurite speaks plain HTTP; the tables SDK refuses that unless told.
    const insecure = { ...tableOptions, allowInsecureConnection: connectionString.includes("http://") };
    const tableService = TableServiceClient.fromConnectionString(connectionString, insecure);
    return {
      blobService: BlobServiceClient.fromConnectionString(connectionString, blobOptions),
      queueService: QueueServiceClient.fromConnectionString(connectionString, queueOptions),
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
  const endpoints = storageEndpoints(config);
  return {
    blobService: new BlobServiceClient(endpoints.blob, identity, blobOptions),
    queueService: new QueueServiceClient(endpoints.queue, identity, queueOptions),
    tableService: new TableServiceClient(endpoints.table, identity, tableOptions),
    table(name) {
      let client = tables.get(name);
      if (!client) {
        client = new TableClient(endpoints.table, config.table(name), identity, tableOptions);
        tables.set(name, client);
      }
      return client;
    },
  };
}
