/**
 * A worker as the Functions host's Storage-queue trigger calls it under `func start` (QUEUE_TRANSPORT=storage):
 * the message is the envelope StorageQueueJobSender wrote, decoded from base64 and parsed, and the delivery count
 * is `dequeueCount` in the trigger metadata. The host retries a throwing invocation and, after host.json's
 * `maxDequeueCount`, moves the message to `<queue>-poison`; the worker's part is to mark the resource failed on
 * that last delivery before it throws. Storage is the test run's Azurite.
 */
import azureFunctions from "@azure/functions";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { definition as copyWorker } from "../../functions/imageSetCopyWorker.js";
import type { AppConfig } from "../../shared/config.js";
import { dropboxContainer } from "../../shared/domain/imageSets.js";
import { contractTimestamp } from "../../shared/domain/time.js";
import { PermanentJobError } from "../../shared/errors.js";
import type { JobEnvelope } from "../../shared/queue/messages.js";
import { createServices, setServices, type Services } from "../../shared/services.js";
import { provisionStorage } from "../../shared/storage/provision.js";
import { testConfig } from "../support/env.js";
import { png } from "../support/images.js";

// Under plain Node ESM this class is only on the default export.
const { InvocationContext } = azureFunctions;

const MAX = 3;
let config: AppConfig;
let services: Services;

beforeAll(async () => {
  config = testConfig({ MAX_DELIVERY_COUNT: String(MAX) });
  services = createServices(config);
  setServices(services);
  await provisionStorage(config, services.clients, { queues: true });
});
afterAll(() => setServices(undefined));

/** The trigger's invocation context: its metadata as the Node worker passes it (camel-cased), and the log lines. */
function triggerContext(dequeueCount: number) {
  const lines: string[] = [];
  const context = new InvocationContext({
    invocationId: `inv-${randomBytes(4).toString("hex")}`,
    functionName: copyWorker.name,
    triggerMetadata: { dequeueCount, id: "0f1e2d3c-queue-message-id", popReceipt: "AgAAAAMAAAAAAAAA", insertionTime: new Date().toISOString() },
    logHandler: (_level, ...args) => lines.push(args.join(" ")),
  });
  return { context, lines };
}

/** An image set in `processing` with one upload in its dropbox, as a finish request leaves it. */
async function processingSet(): Promise<{ imagesetId: number; envelope: JobEnvelope }> {
  const title = `trigger-${randomBytes(4).toString("hex")}`;
  const set = await services.imageSets.create({
    title,
    status: "processing",
    metadata: null,
    blobstoragePath: dropboxContainer(title),
    createdBy: "test",
    dateCreated: contractTimestamp(),
    dateFinished: null,
    failureReason: null,
  });
  const dropbox = services.clients.blobService.getContainerClient(dropboxContainer(title));
  await dropbox.createIfNotExists();
  await dropbox.getBlockBlobClient("a.png").uploadData(await png(8, 8));
  return { imagesetId: set!.imagesetId, envelope: { type: "imageset-copy", messageId: `copy-${title}`, body: { imagesetId: set!.imagesetId } } };
}

const statusOf = async (imagesetId: number) => (await services.imageSets.get(imagesetId))!;

describe("a worker under the Storage-queue trigger", () => {
  it("runs the job from the envelope, and from its JSON text", async () => {
    const { imagesetId, envelope } = await processingSet();
    const { context, lines } = triggerContext(1);
    await copyWorker.handler(envelope, context);
    expect((await statusOf(imagesetId)).status).toBe("finished");
    // The log names the sender's message id (the envelope's), not the queue's own.
    expect(lines.some((l) => l.includes(`"messageId":"${envelope.messageId}"`) && l.includes('"delivery":1') && l.includes("done in"))).toBe(true);

    const second = await processingSet();
    await copyWorker.handler(JSON.stringify(second.envelope), triggerContext(1).context);
    expect((await statusOf(second.imagesetId)).status).toBe("finished");
  });

  it("retries by throwing, and on the last dequeue marks the resource failed before it throws", async () => {
    const { imagesetId, envelope } = await processingSet();
    // The image store is gone: every copy attempt fails.
    const images = services.clients.blobService.getContainerClient(config.imageContainer);
    await images.delete();
    try {
      for (let dequeueCount = 1; dequeueCount < MAX; dequeueCount++) {
        const { context, lines } = triggerContext(dequeueCount);
        await expect(copyWorker.handler(envelope, context)).rejects.toThrow();
        expect((await statusOf(imagesetId)).status, `dequeue ${dequeueCount}`).toBe("processing");
        expect(lines.some((l) => l.includes("failed, will retry") && l.includes(`"delivery":${dequeueCount}`))).toBe(true);
      }
      // dequeueCount = maxDequeueCount: the host moves the message to the poison queue once this throws.
      const { context, lines } = triggerContext(MAX);
      await expect(copyWorker.handler(envelope, context)).rejects.toThrow();
      const failed = await statusOf(imagesetId);
      expect(failed.status).toBe("failed");
      expect(failed.failureReason).toMatch(/container/i);
      expect(lines.some((l) => l.includes("failed for good") && l.includes(`"delivery":${MAX}`))).toBe(true);
    } finally {
      await images.createIfNotExists();
    }
  });

  it("takes a bare job body too (the local host's and Service Bus's shape)", async () => {
    const { imagesetId, envelope } = await processingSet();
    await copyWorker.handler(envelope.body, triggerContext(1).context);
    expect((await statusOf(imagesetId)).status).toBe("finished");
  });

  it("refuses an envelope of another job type without running anything", async () => {
    const { imagesetId } = await processingSet();
    const misrouted = { type: "export-run", messageId: "wrong-queue", body: { imagesetId } };
    await expect(copyWorker.handler(misrouted, triggerContext(1).context)).rejects.toBeInstanceOf(PermanentJobError);
    expect((await statusOf(imagesetId)).status).toBe("processing");
  });
});
