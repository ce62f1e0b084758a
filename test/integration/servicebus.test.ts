import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ZodError } from "zod";
import { QUEUE_NAMES, type AppConfig } from "../../shared/config.js";
import type { JobBody, JobType } from "../../shared/queue/messages.js";
import { createServiceBusSender, QueueSendError, type ServiceBusJobSender } from "../../shared/queue/serviceBus.js";
import { AmqpPeer, refusals } from "../support/amqpPeer.js";
import { testConfig } from "../support/env.js";

// Short retries keep the failure cases fast: 3 tries, ~50-100 ms apart, 1.5 s per try at most.
const retry = { maxRetries: 2, retryDelayInMs: 50, maxRetryDelayInMs: 100, timeoutInMs: 1500 };
const TRIES = retry.maxRetries + 1;

const samples: { [T in JobType]: JobBody<T> } = {
  "imageset-copy": { imagesetId: 2 },
  "campaign-submission": { campaignId: 3, batchId: "2026-12-02T10:00:00.000000Z_0a1b2c3d", imageIds: [1, 2] },
  "campaign-images": { campaignId: 3, additionId: "20261202100000-0a1b2c3d" },
  "campaign-finish": { campaignId: 3 },
  "export-run": { exportId: "exp-1" },
  "mask-plan": { exportId: "exp-2" },
  "mask-render": { exportId: "exp-2", imageId: 4 },
  "mask-zip": { exportId: "exp-2" },
  "webhook-dispatch": { table: "records", partition: "campaigns" },
  "webhook-deliver": { webhookId: "wh_0123456789abcdef", position: 0, attempt: 1 },
};

function configFor(peer: AmqpPeer): AppConfig {
  return testConfig({ QUEUE_TRANSPORT: "servicebus", SERVICEBUS_CONNECTION_STRING: peer.connectionString });
}

describe("ServiceBusJobSender against an AMQP peer", () => {
  let peer: AmqpPeer;
  let config: AppConfig;
  let sender: ServiceBusJobSender;

  beforeAll(async () => {
    peer = await AmqpPeer.start();
    config = configFor(peer);
    sender = createServiceBusSender(config, { retry });
  });

  afterAll(async () => {
    await sender?.close();
    await peer?.close();
  });

  const afterTest: Array<() => Promise<void>> = [];
  beforeEach(() => {
    peer.state = {};
  });
  afterEach(async () => {
    await Promise.allSettled(afterTest.splice(0).map((close) => close()));
  });

  it("sends each job type to its own queue with message id, JSON content type and the type as subject", async () => {
    const before = peer.messages.length;
    for (const type of QUEUE_NAMES) {
      await sender.send(type, samples[type], { messageId: `id-${type}` });
    }
    const received = peer.messages.slice(before);
    expect(received).toHaveLength(QUEUE_NAMES.length);
    for (const type of QUEUE_NAMES) {
      const queue = config.queue(type);
      expect(queue).toBe(`${config.prefix}${type}`);
      expect(received.filter((m) => m.queue === queue)).toEqual([
        {
          queue,
          messageId: `id-${type}`,
          contentType: "application/json",
          subject: type,
          sessionId: undefined, // no queue needs ordering, so none uses sessions
          body: samples[type],
          applicationProperties: undefined,
        },
      ]);
    }
    // The client authenticated over $cbs for each queue's audience before attaching.
    for (const type of QUEUE_NAMES) {
      expect(peer.tokenRequests.some((t) => t.audience.endsWith(`/${config.queue(type)}`) && t.status === 200)).toBe(true);
    }
  });

  it("schedules a delayed message for later delivery", async () => {
    const queue = config.queue("campaign-submission");
    const before = Date.now();
    await sender.send("campaign-submission", samples["campaign-submission"], { delaySeconds: 120 });
    const [message] = peer.messagesFor(queue).slice(-1);
    const at = message?.scheduledEnqueueTime?.getTime() ?? 0;
    expect(at).toBeGreaterThanOrEqual(before + 119_000);
    expect(at).toBeLessThanOrEqual(Date.now() + 121_000);
  });

  it("gives a message a random UUID id when none is passed, and reuses one link per queue", async () => {
    const queue = config.queue("campaign-finish");
    const linksBefore = peer.attemptsFor(queue).length;
    await sender.send("campaign-finish", { campaignId: 9 });
    await sender.send("campaign-finish", { campaignId: 10 });
    const [a, b] = peer.messagesFor(queue).slice(-2);
    expect(a?.messageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(b?.messageId).not.toBe(a?.messageId);
    expect(peer.attemptsFor(queue).length).toBe(linksBefore === 0 ? 1 : linksBefore);
  });

  it("rejects an invalid body before anything is sent", async () => {
    const before = { messages: peer.messages.length, links: peer.linkAttempts.length };
    const bad = { imagesetId: -1 };
    await expect(sender.send("imageset-copy", bad)).rejects.toBeInstanceOf(ZodError);
    const extra = { campaignId: 1, imageId: 2 } as unknown as JobBody<"campaign-finish">;
    await expect(sender.send("campaign-finish", extra)).rejects.toBeInstanceOf(ZodError);
    expect(peer.messages.length).toBe(before.messages);
    expect(peer.linkAttempts.length).toBe(before.links);
  });

  it("retries a transient refusal, then throws QueueSendError naming the queue and the reason", async () => {
    // A fresh sender: refusals happen when a link attaches, and the shared sender's links are already up.
    const sender = createServiceBusSender(config, { retry });
    afterTest.push(() => sender.close());
    const queue = config.queue("export-run");
    peer.state = { refuseLinks: { refusal: refusals.serverBusy(queue), queues: [queue] } };
    const error = await sender.send("export-run", { exportId: "busy" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueSendError);
    const e = error as QueueSendError;
    expect(e.name).toBe("QueueSendError");
    expect(e.queue).toBe(queue);
    expect(e.jobType).toBe("export-run");
    expect(e.attempts).toBe(TRIES);
    expect(e.code).toBe("ServiceBusy");
    expect(e.cause).toBeInstanceOf(Error);
    expect(e.message).toContain(`Service Bus queue "${queue}"`);
    expect(e.message).toContain(`${TRIES} attempts`);
    expect(e.message).toContain("throttled");
    expect(peer.attemptsFor(queue).filter((a) => a.refused)).toHaveLength(TRIES);
    const sentBefore = peer.messagesFor(queue).length;

    // The same cached sender recovers once the broker accepts again.
    peer.state = {};
    await sender.send("export-run", { exportId: "after-busy" });
    expect(
      peer
        .messagesFor(queue)
        .slice(sentBefore)
        .map((m) => m.body),
    ).toEqual([{ exportId: "after-busy" }]);
  });

  it("does not retry a permanent refusal (queue missing)", async () => {
    const sender = createServiceBusSender(config, { retry });
    afterTest.push(() => sender.close());
    const queue = config.queue("mask-render");
    peer.state = { refuseLinks: { refusal: refusals.entityNotFound(queue), queues: [queue] } };
    const error = await sender.send("mask-render", { exportId: "x", imageId: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueSendError);
    const e = error as QueueSendError;
    expect(e.attempts).toBe(1);
    expect(e.code).toBe("MessagingEntityNotFound");
    expect(e.message).toMatch(new RegExp(`queue "${queue}" \\(1 attempt, MessagingEntityNotFound\\): .*could not be found`));
    expect(peer.attemptsFor(queue).filter((a) => a.refused)).toHaveLength(1);
  });

  it("retries a refused CBS token (the SDK treats it as possibly rotated credentials), then throws", async () => {
    const sender = createServiceBusSender(config, { retry });
    afterTest.push(() => sender.close());
    const queue = config.queue("imageset-copy");
    const tokensBefore = peer.tokenRequests.length;
    peer.state = { tokenStatus: { code: 401, description: "InvalidSignature: The token has an invalid signature." } };
    const error = await sender.send("imageset-copy", { imagesetId: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueSendError);
    expect((error as QueueSendError).code).toBe("UnauthorizedAccess");
    expect((error as QueueSendError).message).toContain("InvalidSignature");
    expect(peer.tokenRequests.slice(tokensBefore).filter((t) => t.status === 401)).toHaveLength(TRIES);
    expect(peer.attemptsFor(queue).filter((a) => a.refused)).toHaveLength(0);
  });

  it("retries when the broker rejects the message itself, then throws", async () => {
    const queue = config.queue("campaign-finish");
    const rejectedBefore = peer.rejectedMessages.length;
    peer.state = { rejectMessages: refusals.serverBusy(queue) };
    const error = await sender.send("campaign-finish", { campaignId: 1 }, { messageId: "m-rejected" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueSendError);
    expect((error as QueueSendError).attempts).toBe(TRIES);
    const rejected = peer.rejectedMessages.slice(rejectedBefore);
    // Every try carries the same message id, so Service Bus duplicate detection would collapse them.
    expect(rejected.map((m) => m.messageId)).toEqual(Array(TRIES).fill("m-rejected"));
  });

  it("reconnects on its own after the broker drops the connection", async () => {
    await sender.send("imageset-copy", { imagesetId: 5 });
    peer.dropConnections();
    await sender.send("imageset-copy", { imagesetId: 6 }, { messageId: "after-drop" });
    expect(peer.messagesFor(config.queue("imageset-copy")).at(-1)?.messageId).toBe("after-drop");
  });
});

describe("ServiceBusJobSender when the broker is gone", () => {
  it("fails fast with QueueSendError when nothing listens", async () => {
    const peer = await AmqpPeer.start();
    const config = configFor(peer);
    await peer.close();
    const sender = createServiceBusSender(config, { retry });
    try {
      const started = Date.now();
      const error = await sender.send("imageset-copy", { imagesetId: 1 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QueueSendError);
      expect((error as QueueSendError).message).toContain(`"${config.queue("imageset-copy")}"`);
      expect((error as QueueSendError).message).toContain("ECONNREFUSED");
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await sender.close();
    }
  });

  it("refuses to send after close()", async () => {
    const peer = await AmqpPeer.start();
    const sender = createServiceBusSender(configFor(peer), { retry });
    await sender.close();
    await expect(sender.send("imageset-copy", { imagesetId: 1 })).rejects.toThrow(/sender is closed/);
    await peer.close();
  });

  it("gives up within the retry budget when the broker vanishes under an open link", async () => {
    const peer = await AmqpPeer.start();
    const config = configFor(peer);
    const sender = createServiceBusSender(config, { retry });
    try {
      await sender.send("campaign-finish", { campaignId: 1 });
      expect(peer.messages).toHaveLength(1);
      await peer.close();
      const started = Date.now();
      const error = await sender.send("campaign-finish", { campaignId: 2 }).catch((e: unknown) => e);
      const elapsed = Date.now() - started;
      expect(error).toBeInstanceOf(QueueSendError);
      expect((error as QueueSendError).message).toContain(`Service Bus queue "${config.queue("campaign-finish")}"`);
      // Bound: every try waits at most timeoutInMs, plus the short back-off between tries.
      expect(elapsed).toBeLessThan(TRIES * retry.timeoutInMs + TRIES * retry.maxRetryDelayInMs + 1000);
    } finally {
      await sender.close();
    }
  });
});
