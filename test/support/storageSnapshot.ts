import { TableClient } from "@azure/data-tables";
import type { AppConfig } from "../../shared/config.js";
import type { StorageClients } from "../../shared/storage/clients.js";

/**
 * Everything a test stack owns in storage, cheap enough to take around every request of a small
 * dataset: every entity of every table whose name starts with RESOURCE_PREFIX (without timestamp,
 * etag and OData metadata), every blob (name and etag) of every container whose name starts with the
 * prefix or with `dropbox-<prefix>` (dropbox containers are named by the set title, not the prefix; a
 * test that creates image sets gives them prefixed titles), and optionally the approximate message
 * count of every prefixed queue (only meaningful with the workers off).
 */
export interface StorageSnapshot {
  /** `table␟partitionKey␟rowKey` → the entity as canonical JSON. */
  entities: Map<string, string>;
  /** `container/blob` → etag; every container also appears as `container/` → "container". */
  blobs: Map<string, string>;
  /** queue name → approximate message count. */
  queues: Map<string, number>;
}

export interface SnapshotOptions {
  /** Count queue messages too: all prefixed queues (true) or the named ones (default none: workers may move them). */
  queues?: boolean | string[];
}

const SEP = "\u241f";

const tableClients = new Map<string, TableClient>();
function tableClient(config: AppConfig, name: string): TableClient {
  const connectionString = config.settings.STORAGE_CONNECTION_STRING;
  if (!connectionString) throw new Error("a storage snapshot needs STORAGE_CONNECTION_STRING (tests run on Azurite)");
  let client = tableClients.get(name);
  if (!client) {
    client = TableClient.fromConnectionString(connectionString, name, { allowInsecureConnection: connectionString.includes("http://") });
    tableClients.set(name, client);
  }
  return client;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

function withoutMetadata(entity: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entity)) {
    if (key === "etag" || key === "timestamp" || key === "Timestamp" || key.startsWith("odata.") || key.includes("@odata.")) continue;
    out[key] = value;
  }
  return out;
}

export async function takeStorageSnapshot(config: AppConfig, clients: StorageClients, options: SnapshotOptions = {}): Promise<StorageSnapshot> {
  const prefix = config.prefix.toLowerCase();
  if (!prefix) throw new Error("a storage snapshot needs a RESOURCE_PREFIX (the test stack sets one)");

  const tableNames: string[] = [];
  for await (const table of clients.tableService.listTables()) {
    if (table.name && table.name.toLowerCase().startsWith(prefix)) tableNames.push(table.name);
  }

  const containerNames: string[] = [];
  for (const containerPrefix of [prefix, `dropbox-${prefix}`]) {
    for await (const container of clients.blobService.listContainers({ prefix: containerPrefix })) containerNames.push(container.name);
  }

  const entities = new Map<string, string>();
  const blobs = new Map<string, string>();
  const queues = new Map<string, number>();

  const tableWork = tableNames.map(async (name) => {
    for await (const entity of tableClient(config, name).listEntities<Record<string, unknown>>()) {
      const key = [name, String(entity.partitionKey), String(entity.rowKey)].join(SEP);
      entities.set(key, JSON.stringify(canonical(withoutMetadata(entity))));
    }
  });
  const blobWork = containerNames.map(async (name) => {
    blobs.set(`${name}/`, "container");
    for await (const blob of clients.blobService.getContainerClient(name).listBlobsFlat()) {
      blobs.set(`${name}/${blob.name}`, String(blob.properties.etag));
    }
  });
  const queueWork = options.queues
    ? [
        (async () => {
          const names: string[] = Array.isArray(options.queues) ? [...options.queues] : [];
          if (options.queues === true) for await (const queue of clients.queueService.listQueues({ prefix })) names.push(queue.name);
          await Promise.all(
            names.map(async (name) => {
              queues.set(name, (await clients.queueService.getQueueClient(name).getProperties()).approximateMessagesCount ?? 0);
            }),
          );
        })(),
      ]
    : [];
  await Promise.all([...tableWork, ...blobWork, ...queueWork]);
  return { entities, blobs, queues };
}

function shorten(text: string, max = 300): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

/** What changed between two snapshots, one line per entity, blob or queue (at most `limit` lines). */
export function diffSnapshots(before: StorageSnapshot, after: StorageSnapshot, limit = 15): string[] {
  const lines: string[] = [];
  const compare = (what: string, a: Map<string, string | number>, b: Map<string, string | number>) => {
    for (const [key, value] of b) {
      if (!a.has(key)) lines.push(`+ ${what} ${key.split(SEP).join(" | ")} = ${shorten(String(value))}`);
      else if (a.get(key) !== value) {
        let change = `${shorten(String(a.get(key)), 150)} → ${shorten(String(value), 150)}`;
        if (what === "entity") {
          const old = JSON.parse(String(a.get(key))) as Record<string, unknown>;
          const now = JSON.parse(String(value)) as Record<string, unknown>;
          const fields = [...new Set([...Object.keys(old), ...Object.keys(now)])].filter((f) => JSON.stringify(old[f]) !== JSON.stringify(now[f]));
          change = fields
            .map((f) => `${f}: ${shorten(JSON.stringify(old[f]) ?? "absent", 80)} → ${shorten(JSON.stringify(now[f]) ?? "absent", 80)}`)
            .join(", ");
        }
        lines.push(`~ ${what} ${key.split(SEP).join(" | ")}: ${change}`);
      }
    }
    for (const key of a.keys()) if (!b.has(key)) lines.push(`- ${what} ${key.split(SEP).join(" | ")}`);
  };
  compare("entity", before.entities, after.entities);
  compare("blob", before.blobs, after.blobs);
  compare("queue", before.queues, after.queues);
  return lines.length > limit ? [...lines.slice(0, limit), `… and ${lines.length - limit} more changes`] : lines;
}
