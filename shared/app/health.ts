import { azureMlConfigured, checkWorkspace } from "../azureml.js";
import { QUEUE_NAMES } from "../config.js";
import { errorMessage } from "../errors.js";
import type { Services } from "../services.js";

type Check = { ok: boolean; detail: string };

async function check(probe: () => Promise<string>): Promise<Check> {
  try {
    return { ok: true, detail: await probe() };
  } catch (error) {
    return { ok: false, detail: errorMessage(error).slice(0, 300) };
  }
}

/** Storage, queues and (when configured) the Azure ML workspace, each probed with one cheap call. */
export async function healthReport(services: Services) {
  const { config, clients } = services;
  const [blob, table, queues, azureml] = await Promise.all([
    check(async () =>
      (await clients.blobService.getContainerClient(config.imageContainer).exists()) ? "image container reachable" : "image container missing",
    ),
    check(async () => {
      await services.campaigns.count();
      return "tables reachable";
    }),
    config.settings.QUEUE_TRANSPORT === "storage"
      ? check(async () => {
          const depths = await Promise.all(
            QUEUE_NAMES.map(
              async (name) => `${name}: ${(await clients.queueService.getQueueClient(config.queue(name)).getProperties()).approximateMessagesCount ?? 0}`,
            ),
          );
          return `storage queues; waiting messages ${depths.join(", ")}`;
        })
      : Promise.resolve({ ok: true, detail: "Service Bus (queues are read by the Functions host's triggers)" }),
    azureMlConfigured(config)
      ? check(async () => {
          await checkWorkspace(config);
          return `workspace ${config.settings.AZUREML_WORKSPACE} reachable`;
        })
      : Promise.resolve({ ok: true, detail: "not configured" }),
  ]);
  const checks = { blob_storage: blob, table_storage: table, queues, azure_ml: azureml };
  return { healthy: Object.values(checks).every((c) => c.ok), checks };
}
