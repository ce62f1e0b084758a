import { z } from "zod";
import { DEFAULT_RETRY_SCHEDULE, retryScheduleProblem } from "./domain/webhooks.js";

/** Azurite's well-known development account (public, documented by Microsoft; not a secret). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/** A connection string for Azurite's development account at `host` with the three service ports (defaults are Azurite's). */
export function azuriteConnectionString(host = "127.0.0.1", blobPort = 10000, queuePort = 10001, tablePort = 10002): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
    `BlobEndpoint=http://${host}:${blobPort}/${AZURITE_ACCOUNT};` +
    `QueueEndpoint=http://${host}:${queuePort}/${AZURITE_ACCOUNT};` +
    `TableEndpoint=http://${host}:${tablePort}/${AZURITE_ACCOUNT};`
  );
}

const intFrom = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));

const isHttpsUrl = (value: string): boolean => {
  try {
    const url = new URL(value);
    return url.protocol === "https:" && !url.search && !url.hash;
  } catch {
    return false;
  }
};
/** An optional service URL: https, no query; kept without a trailing slash so paths append cleanly. */
const httpsEndpoint = (name: string) =>
  optionalString.refine((v) => v === undefined || isHttpsUrl(v), `${name} must be an https:// URL without a query`).transform((v) => v?.replace(/\/+$/, ""));

/**
 * Every app setting the code reads, with its local default. The README's settings table and
 * local.settings.sample.json list exactly these; a test keeps them in step.
 */
export const settingsSchema = z.object({
  /** Storage connection string (Azurite locally). Empty in Azure, where STORAGE_ACCOUNT_NAME + managed identity are used. */
  STORAGE_CONNECTION_STRING: optionalString,
  /** Storage account name for identity-based access in Azure (no key in settings). */
  STORAGE_ACCOUNT_NAME: optionalString,
  /**
   * Service endpoints for identity-based access, when they are not the public ones derived from
   * STORAGE_ACCOUNT_NAME (`https://<account>.blob.core.windows.net`): Azurite over HTTPS, whose URLs carry
   * the account in the path. HTTPS only, because bearer tokens are never sent over plain HTTP.
   */
  STORAGE_BLOB_ENDPOINT: httpsEndpoint("STORAGE_BLOB_ENDPOINT"),
  STORAGE_QUEUE_ENDPOINT: httpsEndpoint("STORAGE_QUEUE_ENDPOINT"),
  STORAGE_TABLE_ENDPOINT: httpsEndpoint("STORAGE_TABLE_ENDPOINT"),
  /** How SAS URLs are signed: `accountKey` (Azurite, connection string) or `userDelegation` (managed identity). */
  SAS_SIGNING: z.enum(["accountKey", "userDelegation"]).optional(),
  /** Queue transport: Azure Storage queues (local host) or Service Bus (Azure). */
  QUEUE_TRANSPORT: z.enum(["storage", "servicebus"]).default("storage"),
  /** Service Bus connection string (tests, emulator); empty in Azure where the namespace + identity are used. */
  SERVICEBUS_CONNECTION_STRING: optionalString,
  /** Service Bus fully qualified namespace for identity-based access, e.g. `mybus.servicebus.windows.net`. */
  ServiceBusConnection__fullyQualifiedNamespace: optionalString,
  /** Prefix for every table, queue and container the app owns; lets several stacks share one account. */
  RESOURCE_PREFIX: optionalString.pipe(
    z
      .string()
      .regex(/^[a-z][a-z0-9]{0,11}$/, "RESOURCE_PREFIX must be 1-12 lowercase letters/digits starting with a letter")
      .optional(),
  ),
  /** Container that holds the images (and label sets). */
  IMAGE_CONTAINER: z.string().default("images"),
  /** Folder inside IMAGE_CONTAINER under which each image set gets `<folder>/<title>/`. */
  IMAGE_FOLDER: z.string().default("uploads"),
  /** Container for export files and rendered masks. */
  EXPORT_CONTAINER: z.string().default("exports"),
  /** Days a dropbox SAS URL stays valid. */
  DROPBOX_SAS_DAYS: intFrom(7, 1, 7),
  /** Minutes an image or download read SAS stays valid (at most an hour). */
  READ_SAS_MINUTES: intFrom(15, 1, 60),
  /** Deliveries of one job message before it is dead-lettered and its resource marked failed. */
  MAX_DELIVERY_COUNT: intFrom(5, 1, 100),
  /** Blob copies in flight per copy job. */
  COPY_CONCURRENCY: intFrom(16, 1, 128),
  /** Largest accepted request body, in bytes. */
  MAX_BODY_BYTES: intFrom(16 * 1024 * 1024, 1024, 100 * 1024 * 1024),
  /** Key and secret of the `image-admin` user that the local host ensures exists. */
  LOCAL_ADMIN_KEY: z.string().min(8).default("local-admin-key"),
  LOCAL_ADMIN_SECRET: z.string().min(8).default("local-admin-secret"),
  LOCAL_ADMIN_EMAIL: z.string().default("admin@localhost"),
  /** Port of the local HTTP host. */
  PORT: intFrom(7071, 0, 65535),
  /** Azure ML workspace for registering data assets; all three or none. */
  AZUREML_SUBSCRIPTION_ID: optionalString,
  AZUREML_RESOURCE_GROUP: optionalString,
  AZUREML_WORKSPACE: optionalString,
  /** Datastore name that points at the storage account, used in data asset paths. */
  AZUREML_DATASTORE: z.string().default("workspaceblobstore"),
  /**
   * Whether webhook targets may be private, loopback or link-local addresses, and plain http://: local development
   * only (the local stack and the test stacks turn it on); off in Azure, where such a target could reach internal services.
   */
  WEBHOOK_ALLOW_PRIVATE_TARGETS: z
    .enum(["true", "false"], "WEBHOOK_ALLOW_PRIVATE_TARGETS must be true or false")
    .default("false")
    .transform((v) => v === "true"),
  /** Seconds between a webhook delivery's attempts, comma-separated; once used up the delivery has failed. */
  WEBHOOK_RETRY_SCHEDULE: z
    .string()
    .default(DEFAULT_RETRY_SCHEDULE)
    .superRefine((value, ctx) => {
      const problem = retryScheduleProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: `WEBHOOK_RETRY_SCHEDULE ${problem}` });
    }),
});

/** The app's settings after validation and defaults: the environment, or `local.settings.json` under `func start`. */
export type Settings = z.infer<typeof settingsSchema>;

/** Settings resolved into the names the app uses: containers, folders, and each table and queue with `RESOURCE_PREFIX` applied. */
export interface AppConfig {
  readonly settings: Settings;
  readonly prefix: string;
  readonly imageContainer: string;
  readonly exportContainer: string;
  readonly imageFolder: string;
  readonly sasSigning: "accountKey" | "userDelegation";
  table(name: TableName): string;
  queue(name: QueueName): string;
}

/** Tables the app owns (before RESOURCE_PREFIX). Partition design is in shared/storage/README.md. */
export const TABLE_NAMES = ["users", "records", "campaignData", "exports"] as const;
/** One of the app's tables, before `RESOURCE_PREFIX`. */
export type TableName = (typeof TABLE_NAMES)[number];

/**
 * One queue per job type, named after the job module that runs it (`mask-plan` is shared/jobs/maskPlan.ts, run by
 * functions/maskPlanWorker.ts). A mask export has three stages, each on its own queue: plan, render (per image), zip.
 * Webhooks have two: `webhook-dispatch` turns a partition's outbox rows into deliveries, `webhook-deliver` makes one attempt.
 */
export const QUEUE_NAMES = [
  "imageset-copy",
  "campaign-submission",
  "campaign-images",
  "campaign-finish",
  "export-run",
  "mask-plan",
  "mask-render",
  "mask-zip",
  "webhook-dispatch",
  "webhook-deliver",
] as const;
/** One of the job queues, before `RESOURCE_PREFIX`. */
export type QueueName = (typeof QUEUE_NAMES)[number];

/** Settings that are missing or invalid; the message names each problem. The app refuses to start with it. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/**
 * Validates the settings in `env` and resolves them into an {@link AppConfig}.
 * @throws {@link ConfigError} naming every invalid setting.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  const parsed = settingsSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new ConfigError(`invalid settings: ${problems}`);
  }
  const settings = parsed.data;
  const endpoints = [settings.STORAGE_BLOB_ENDPOINT, settings.STORAGE_QUEUE_ENDPOINT, settings.STORAGE_TABLE_ENDPOINT];
  // Refused rather than ignored: a connection string names its own endpoints, and SAS signing needs the account name.
  if (endpoints.some(Boolean) && (settings.STORAGE_CONNECTION_STRING || !settings.STORAGE_ACCOUNT_NAME)) {
    throw new ConfigError(
      "invalid settings: STORAGE_BLOB_ENDPOINT, STORAGE_QUEUE_ENDPOINT and STORAGE_TABLE_ENDPOINT go with STORAGE_ACCOUNT_NAME, not STORAGE_CONNECTION_STRING",
    );
  }
  if (!settings.STORAGE_CONNECTION_STRING && !settings.STORAGE_ACCOUNT_NAME) {
    settings.STORAGE_CONNECTION_STRING = azuriteConnectionString();
  }
  const prefix = settings.RESOURCE_PREFIX ?? "";
  const sasSigning = settings.SAS_SIGNING ?? (settings.STORAGE_CONNECTION_STRING ? "accountKey" : "userDelegation");
  const azureMl = [settings.AZUREML_SUBSCRIPTION_ID, settings.AZUREML_RESOURCE_GROUP, settings.AZUREML_WORKSPACE];
  if (azureMl.some(Boolean) && !azureMl.every(Boolean)) {
    throw new ConfigError("invalid settings: AZUREML_SUBSCRIPTION_ID, AZUREML_RESOURCE_GROUP and AZUREML_WORKSPACE go together");
  }
  if (settings.QUEUE_TRANSPORT === "servicebus" && !settings.SERVICEBUS_CONNECTION_STRING && !settings.ServiceBusConnection__fullyQualifiedNamespace) {
    throw new ConfigError("invalid settings: QUEUE_TRANSPORT=servicebus needs SERVICEBUS_CONNECTION_STRING or ServiceBusConnection__fullyQualifiedNamespace");
  }
  return {
    settings,
    prefix,
    imageContainer: prefix + settings.IMAGE_CONTAINER,
    exportContainer: prefix + settings.EXPORT_CONTAINER,
    imageFolder: settings.IMAGE_FOLDER.replace(/^\/+|\/+$/g, ""),
    sasSigning,
    table: (name) => prefix + name.replace(/[^A-Za-z0-9]/g, ""),
    queue: (name) => prefix + name,
  };
}
