import { randomUUID } from "node:crypto";
import type { DequeuedMessageItem, QueueClient, QueueServiceClient } from "@azure/storage-queue";
import type { AppConfig } from "../config.js";
import { errorMessage, PermanentJobError } from "../errors.js";
import { jobSchemas, type JobBody, type JobEnvelope, type JobSender, type JobType, type SendOptions } from "./messages.js";

/**
 * Where a Storage queue's dead letters go: `<queue>-poison`, the name the Functions host's Storage-queue trigger
 * uses too, so `npm start` and `func start` dead-letter into the same queue.
 */
export const poisonQueueName = (queue: string) => `${queue}-poison`;

function encode(envelope: JobEnvelope & { handBacks?: number }): string {
  // Base64 like the Functions storage-queue trigger expects, so the same queues work under the Functions host.
  return Buffer.from(JSON.stringify(envelope), "utf8").toString("base64");
}

/** A Storage-queue message's envelope: base64 JSON as written by the sender (plain JSON is accepted too). Throws on bad JSON. */
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
    // A delayed message is sent invisible, the Storage-queue counterpart of a scheduled Service Bus message.
    await this.queueService
      .getQueueClient(this.config.queue(type))
      .sendMessage(encode(envelope), options.delaySeconds ? { visibilityTimeout: options.delaySeconds } : {});
  }

  async close(): Promise<void> {}
}

/** What the local host's worker knows of one delivery: the sender's message id and the deliveries counted so far. */
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

export interface WorkerStopOptions {
  /** How long handlers in flight may run on before their messages are handed back (default 5000 ms). */
  graceMs?: number;
}

export interface WorkerStopResult {
  /** Messages whose handlers were running when the stop began. */
  inFlight: number;
  /** Messages made visible again because their handlers outlived the grace, or that arrived as the worker stopped. */
  handedBack: number;
}

/** How long a stop waits, after the grace, for hand-backs and settlements already under way. */
const HAND_BACK_MS = 1000;

/** A message in hand: its lock (pop receipt, renewed while the handler runs) and where it stands. */
interface HeldMessage {
  readonly id: string;
  readonly text: string;
  receipt: string;
  /** running: the handler has it; settling: deleted, retried or dead-lettered now; handed-back: given up by a stop. */
  state: "running" | "settling" | "handed-back";
  renew?: ReturnType<typeof setInterval>;
  renewing: Promise<void>;
}

/** The envelope as stored, with the hand-backs it has been through (a stop is not a delivery that counts). */
type StoredEnvelope = JobEnvelope & { handBacks?: number };

/** The message text with one more hand-back counted; undefined (keep the text) when it is not an envelope. */
function withHandBack(text: string): string | undefined {
  try {
    const envelope = decodeEnvelope(text) as StoredEnvelope | null;
    if (typeof envelope !== "object" || envelope === null) return undefined;
    return encode({ ...envelope, handBacks: handBacksOf(envelope) + 1 });
  } catch {
    return undefined;
  }
}

function handBacksOf(envelope: StoredEnvelope | null | undefined): number {
  const handBacks = envelope?.handBacks;
  return typeof handBacks === "number" && Number.isInteger(handBacks) && handBacks > 0 ? handBacks : 0;
}

/** Deliveries that count towards `maxDeliveries`: Storage counts every receive, hand-backs included. */
function countedDeliveries(dequeueCount: number, envelope: StoredEnvelope | null | undefined): number {
  return Math.max(1, dequeueCount - handBacksOf(envelope));
}

/** Resolves when every promise settled (true) or after `ms` (false), whichever is first; never rejects. */
async function settledWithin(promises: Promise<unknown>[], ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([Promise.allSettled(promises).then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Receives job messages from a Storage queue with at-least-once delivery: a message is deleted only
 * after its handler succeeds; a failure makes it visible again after a back-off; after `maxDeliveries`
 * deliveries (or a PermanentJobError) it moves to `<queue>-poison` with the reason, like a dead-letter queue.
 * A stop gives handlers a grace period and hands back the messages of those still running.
 */
export class StorageQueueWorker {
  private running = false;
  private inFlight = new Map<HeldMessage, Promise<void>>();
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private stopRequested: Promise<void> = Promise.resolve();
  private requestStop: () => void = () => {};
  private handedBack = 0;

  constructor(private readonly options: StorageQueueWorkerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopRequested = new Promise((resolve) => (this.requestStop = resolve));
    this.loop = this.run();
  }

  /**
   * Stops receiving at once and waits up to `graceMs` for the handlers in flight. A message whose handler
   * is still running then is handed back (visible again at once, its late outcome ignored), so the next
   * worker takes it up instead of waiting for its lock to end. Resolves within about graceMs + 1 s.
   */
  async stop(options: WorkerStopOptions = {}): Promise<WorkerStopResult> {
    const graceMs = options.graceMs ?? 5000;
    this.running = false;
    this.requestStop();
    this.wake?.();
    this.handedBack = 0;
    const inFlight = this.inFlight.size;
    await settledWithin([this.loop ?? Promise.resolve(), ...this.inFlight.values()], graceMs);
    const late: Promise<unknown>[] = [];
    for (const [message, task] of this.inFlight) late.push(message.state === "running" ? this.handBack(message) : task);
    await settledWithin(late, HAND_BACK_MS);
    return { inFlight, handedBack: this.handedBack };
  }

  private async run(): Promise<void> {
    const { queue, concurrency = 4, visibilityTimeoutSeconds = 60, idlePollMs = 200 } = this.options;
    let idle = idlePollMs;
    while (this.running) {
      const free = concurrency - this.inFlight.size;
      if (free <= 0) {
        // With the stop in the race, a handler that never returns cannot hold the loop (and the stop) here.
        await Promise.race([...this.inFlight.values(), this.stopRequested]);
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
      const items = received.receivedMessageItems;
      if (!this.running) {
        // Received while the stop began: nothing has started on them, so they go straight back.
        await Promise.all(items.map((item) => this.handBack(this.hold(item))));
        return;
      }
      if (items.length === 0) {
        await this.sleep(idle);
        idle = Math.min(idle * 2, 500);
        continue;
      }
      idle = idlePollMs;
      for (const item of items) {
        const message = this.hold(item);
        message.renew = setInterval(() => this.renewLock(message), (visibilityTimeoutSeconds * 1000) / 2);
        const task = this.handle(message, item.dequeueCount, item.insertedOn).finally(() => this.inFlight.delete(message));
        this.inFlight.set(message, task);
      }
    }
  }

  private hold(item: DequeuedMessageItem): HeldMessage {
    return { id: item.messageId, text: item.messageText, receipt: item.popReceipt, state: "running", renewing: Promise.resolve() };
  }

  /** Extends the lock; chained, so the receipt a settlement or hand-back uses is always the newest. */
  private renewLock(message: HeldMessage): void {
    const { queue, visibilityTimeoutSeconds = 60 } = this.options;
    message.renewing = message.renewing.then(async () => {
      if (message.state !== "running") return;
      try {
        const updated = await queue.updateMessage(message.id, message.receipt, undefined, visibilityTimeoutSeconds);
        message.receipt = updated.popReceipt ?? message.receipt;
      } catch (error) {
        this.options.log?.(`queue ${queue.name}: lock renewal of ${message.id} failed: ${errorMessage(error)}`);
      }
    });
  }

  /**
   * Gives a message up: no more renewals, visible again at once. It is not a failure (no back-off, no
   * dead-lettering), and the hand-back is counted in its text so it does not use up one of its deliveries.
   */
  private async handBack(message: HeldMessage): Promise<void> {
    const { queue, log } = this.options;
    message.state = "handed-back";
    clearInterval(message.renew);
    this.inFlight.delete(message);
    await message.renewing;
    try {
      await queue.updateMessage(message.id, message.receipt, withHandBack(message.text), 0);
      this.handedBack += 1;
      log?.(`queue ${queue.name}: message ${message.id} handed back (visible again now) as the worker stops`);
    } catch (error) {
      log?.(`queue ${queue.name}: handing back ${message.id} failed; it is delivered again when its lock ends: ${errorMessage(error)}`);
    }
  }

  private async handle(message: HeldMessage, dequeueCount: number, insertedOn: Date): Promise<void> {
    const { queue, handler } = this.options;
    let envelope: StoredEnvelope | undefined;
    let failure: unknown;
    try {
      envelope = decodeEnvelope(message.text);
      await handler(envelope, {
        messageId: envelope.messageId ?? message.id,
        deliveryCount: countedDeliveries(dequeueCount, envelope),
        enqueuedTime: insertedOn,
      });
    } catch (error) {
      failure = error instanceof SyntaxError ? new PermanentJobError(`message is not a job envelope: ${error.message}`) : error;
    }
    if (message.state === "handed-back") {
      // Another worker may hold the message by now: deleting, delaying or dead-lettering it would undo that.
      const outcome = failure === undefined ? "finished" : `failed (${errorMessage(failure)})`;
      this.options.log?.(`queue ${queue.name}: message ${message.id} was handed back at stop; its handler ${outcome} later, outcome ignored`);
      return;
    }
    message.state = "settling";
    clearInterval(message.renew);
    await message.renewing;
    await this.settle(message, envelope ?? message.text, failure, countedDeliveries(dequeueCount, envelope));
  }

  private async settle(message: HeldMessage, envelope: JobEnvelope | string, failure: unknown, deliveries: number): Promise<void> {
    const { queue, poison, maxDeliveries } = this.options;
    try {
      if (failure === undefined) {
        await queue.deleteMessage(message.id, message.receipt);
        return;
      }
      const reason = errorMessage(failure);
      if (failure instanceof PermanentJobError || deliveries >= maxDeliveries) {
        const deadLetter = { envelope, reason, deliveries, deadLetteredAt: new Date().toISOString() };
        await poison.sendMessage(Buffer.from(JSON.stringify(deadLetter)).toString("base64"));
        await queue.deleteMessage(message.id, message.receipt);
        this.options.log?.(`queue ${queue.name}: message ${message.id} dead-lettered after ${deliveries} deliveries: ${reason}`);
      } else {
        const delay = this.options.retryDelaySeconds?.(deliveries) ?? Math.min(2 ** deliveries, 60);
        await queue.updateMessage(message.id, message.receipt, undefined, delay);
        this.options.log?.(`queue ${queue.name}: message ${message.id} failed (delivery ${deliveries}), retrying in ${delay}s: ${reason}`);
      }
    } catch (error) {
      // The message stays locked until its visibility timeout ends, then it is delivered again.
      this.options.log?.(`queue ${queue.name}: settling ${message.id} failed: ${errorMessage(error)}`);
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
