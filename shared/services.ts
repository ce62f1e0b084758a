import { loadConfig, type AppConfig } from "./config.js";
import { UserStore } from "./auth.js";
import type { JobBody, JobSender, JobType, SendOptions } from "./queue/messages.js";
import { StorageQueueJobSender } from "./queue/storageQueue.js";
import { AdditionStore } from "./repos/additions.js";
import { CampaignStore } from "./repos/campaigns.js";
import { ExportStore } from "./repos/exports.js";
import { ImageSetStore } from "./repos/imageSets.js";
import { ImageStore } from "./repos/images.js";
import { LabelBatchStore } from "./repos/labelBatches.js";
import { WebhookStore } from "./repos/webhooks.js";
import { createStorageClients, type StorageClients } from "./storage/clients.js";
import { createSasSigner, type SasSigner } from "./storage/sas.js";
import { Outbox } from "./webhooks/outbox.js";

/** Everything a handler or job needs, built once per process from the settings. Holds clients, no state. */
export interface Services {
  readonly config: AppConfig;
  readonly clients: StorageClients;
  readonly sas: SasSigner;
  readonly queue: JobSender;
  readonly users: UserStore;
  readonly imageSets: ImageSetStore;
  readonly images: ImageStore;
  readonly campaigns: CampaignStore;
  readonly labelBatches: LabelBatchStore;
  readonly additions: AdditionStore;
  readonly exports: ExportStore;
  readonly webhooks: WebhookStore;
}

/** Creates the transport's sender on first use, so the Service Bus client loads only where it is configured. */
class LazySender implements JobSender {
  private sender: Promise<JobSender> | undefined;
  constructor(private readonly create: () => Promise<JobSender>) {}
  async send<T extends JobType>(type: T, body: JobBody<T>, options?: SendOptions): Promise<void> {
    this.sender ??= this.create();
    return (await this.sender).send(type, body, options);
  }
  async close(): Promise<void> {
    if (this.sender) await (await this.sender).close();
  }
}

/**
 * Builds the services for a configuration; creates no tables, containers or queues. The job sender follows
 * QUEUE_TRANSPORT unless `overrides.queue` gives one (tests).
 */
export function createServices(config: AppConfig, overrides: { queue?: JobSender } = {}): Services {
  const clients = createStorageClients(config);
  const records = clients.table("records");
  const queue =
    overrides.queue ??
    (config.settings.QUEUE_TRANSPORT === "servicebus"
      ? new LazySender(async () => (await import("./queue/serviceBus.js")).createServiceBusSender(config))
      : new StorageQueueJobSender(config, clients.queueService));
  // Status changes record their webhook events in the same transactions (shared/webhooks/outbox.ts).
  const webhooks = new WebhookStore(records);
  const outbox = new Outbox(queue, () => webhooks.list());
  const campaigns = new CampaignStore(records, clients.table("campaignData"), outbox);
  return {
    config,
    clients,
    sas: createSasSigner(config, clients.blobService),
    queue,
    users: new UserStore(clients.table("users")),
    imageSets: new ImageSetStore(records, outbox),
    images: new ImageStore(records),
    campaigns,
    labelBatches: new LabelBatchStore(clients.table("campaignData"), campaigns),
    additions: new AdditionStore(clients.table("campaignData")),
    exports: new ExportStore(clients.table("exports"), outbox),
    webhooks,
  };
}

let current: Services | undefined;

/** The process's services: built from the environment on first use (Azure), or set by the local host and tests. */
export function getServices(): Services {
  current ??= createServices(loadConfig());
  return current;
}

/** Replaces what getServices returns (the local host and tests); undefined makes the next call build from the environment again. */
export function setServices(services: Services | undefined): void {
  current = services;
}
