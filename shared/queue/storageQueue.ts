import { randomUUID } from "node:crypto";
import type { QueueClient, QueueServiceClient } from "@azure/storage-queue";
import type { AppConfig } from "../config.js";
import { errorMessage, PermanentJobError } from "../errors.js";
import { jobSchemas, type JobBody, type JobEnvelope, type JobSender, type JobType, type SendOptions } from "./messages.js";

export const poisonQueueName = (queue: string) => `${queue}-poison`;

function encode(envelope: JobEnvelope): string {
  // Base64 like the Functions storage-queue trigger expects, so the same queues work under the Functions host.
  return Buffer.from(JSON.stringify(envelope), "utf8").toString("base64");
}

export function decodeEnvelope(text: string): JobEnvelope {
  const json = text.trimStart().startsWith("{") ? text : Buffer.from(text, "base64").toString("utf8");
  return JSON.parse(json) as JobEnvelope;
}

/** The queue port on Azure Storage queues (the local host and Azurite). */
export class StorageQueueJobSender implements JobSender {
  constructor(
    private readonly config: AppConfig,
    private readonly queueService: QueueServiceClient,
  ) {}

  async send<T extends JobType>(type: T, body: JobBody<T>, options: SendOptions = {}): Promise<void> {
    const parsed = jobSchemas[type].parse(body);
    const envelope: JobEnvelope = { type, messageId: options.messageId ?? randomUUID(), body: parsed };
    await this.queueService.getQueueClient(this.config.queue(type)).sendMessage(encode(envelope));
  }

  async close(): Promise<void> {}
}

export interface DeliveryInfo {
  messageId: string;
  deliveryCount: number;
  enqueuedTime?: Date;
}

export type DeliveryHandler = (envelope: JobEnvelope, delivery: DeliveryInfo) => Promise<void>;

export interface StorageQueueWorkerOptions {
  queue: QueueClient;
  poison: QueueClient;
  handler: DeliveryHandler;
  maxDeliveries: number;
  /** Messages handled at once by this worker. */
  concurrency?: number;
  /** Lock length; renewed at half-time while the handler runs, like Service Bus lock renewal. */
  visibilityTimeoutSeconds?: number;
  idlePollMs?: number;
  /** Seconds before a failed message is visible again, by delivery count. */
  retryDelaySeconds?: (deliveryCount: number) => number;
  log?: (line: string) => void;
}

/**
 * Receives job messages from a Storage queue with at-least-once delivery: a message is deleted only
 * after its handler succeeds; a failure makes it visible again after a back-off; after `maxDeliveries`
 * deliveries (or a PermanentJobError) it moves to `<queue>-poison` with the reason, like a dead-letter queue.
 */
export class StorageQueueWorker {
  private running = false;
  private inFlight = new Set<Promise<void>>();
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly options: StorageQueueWorkerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops receiving and waits for the messages in hand to finish. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
  }

  private async run(): Promise<void> {
    const { queue, concurrency = 4, visibilityTimeoutSeconds = 60, idlePollMs = 200 } = this.options;
    let idle = idlePollMs;
    while (this.running) {
      const free = concurrency - this.inFlight.size;
      if (free <= 0) {
        await Promise.race(this.inFlight);
        continue;
      }
      let received;
      try {
        received = await queue.receiveMessages({ numberOfMessages: Math.min(32, free), visibilityTimeout: visibilityTimeoutSeconds });
      } catch (error) {
        this.options.log?.(`queue ${queue.name}: receive failed: ${errorMessage(error)}`);
        await this.sleep(1000);
        continue;
      }
      if (received.receivedMessageItems.length === 0) {
        await this.sleep(idle);
        idle = Math.min(idle * 2, 500);
        continue;
      }
      idle = idlePollMs;
      for (const message of received.receivedMessageItems) {
        const task = this.handle(message.messageId, message.popReceipt, message.messageText, message.dequeueCount, message.insertedOn).finally(
          () => this.inFlight.delete(task),
        );
        this.inFlight.add(task);
      }
    }
  }

  private async handle(id: string, popReceipt: string, text: string, dequeueCount: number, insertedOn: Date): Promise<void> {
    const { queue, poison, handler, maxDeliveries, visibilityTimeoutSeconds = 60 } = this.options;
    let receipt = popReceipt;
    let renewing = Promise.resolve();
    const renew = setInterval(() => {
      renewing = renewing.then(async () => {
        try {
          const updated = await queue.updateMessage(id, receipt, undefined, visibilityTimeoutSeconds);
          receipt = updated.popReceipt ?? receipt;
        } catch (error) {
          this.options.log?.(`queue ${queue.name}: lock renewal of ${id} failed: ${errorMessage(error)}`);
        }
      });
    }, (visibilityTimeoutSeconds * 1000) / 2);
    let envelope: JobEnvelope | undefined;
    let failure: unknown;
    try {
      envelope = decodeEnvelope(text);
      await handler(envelope, { messageId: envelope.messageId ?? id, deliveryCount: dequeueCount, enqueuedTime: insertedOn });
    } catch (error) {
      failure = error instanceof SyntaxError ? new PermanentJobError(`message is not a job envelope: ${error.message}`) : error;
    } finally {
      clearInterval(renew);
      await renewing;
    }
    try {
      if (failure === undefined) {
        await queue.deleteMessage(id, receipt);
        return;
      }
      const reason = errorMessage(failure);
      if (failure instanceof PermanentJobError || dequeueCount >= maxDeliveries) {
        const deadLetter = { envelope: envelope ?? text, reason, deliveries: dequeueCount, deadLetteredAt: new Date().toISOString() };
        await poison.sendMessage(Buffer.from(JSON.stringify(deadLetter)).toString("base64"));
        await queue.deleteMessage(id, receipt);
        this.options.log?.(`queue ${queue.name}: message ${id} dead-lettered after ${dequeueCount} deliveries: ${reason}`);
      } else {
        const delay = this.options.retryDelaySeconds?.(dequeueCount) ?? Math.min(2 ** dequeueCount, 60);
        await queue.updateMessage(id, receipt, undefined, delay);
        this.options.log?.(`queue ${queue.name}: message ${id} failed (delivery ${dequeueCount}), retrying in ${delay}s: ${reason}`);
      }
    } catch (error) {
      // The message stays locked until its visibility timeout ends, then it is delivered again.
      this.options.log?.(`queue ${queue.name}: settling ${id} failed: ${errorMessage(error)}`);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
