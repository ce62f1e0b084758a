import { randomUUID } from "node:crypto";
import { DefaultAzureCredential } from "@azure/identity";
import { isServiceBusError, RetryMode, ServiceBusClient, type RetryOptions, type ServiceBusSender } from "@azure/service-bus";
import { ConfigError, type AppConfig } from "../config.js";
import { errorMessage } from "../errors.js";
import { jobSchemas, type JobBody, type JobSender, type JobType, type SendOptions } from "./messages.js";

/**
 * Bounded retries for a send made while an HTTP request waits: a few tries with short back-off.
 * Worst case is about (maxRetries + 1) × timeoutInMs plus the delays (~45 s), inside the HTTP limit.
 * The SDK's own defaults (60 s per try) would hold a request for minutes when the namespace is unreachable.
 */
export const DEFAULT_SEND_RETRY: Readonly<Required<Pick<RetryOptions, "maxRetries" | "retryDelayInMs" | "maxRetryDelayInMs" | "timeoutInMs">>> = {
  maxRetries: 3,
  retryDelayInMs: 500,
  maxRetryDelayInMs: 4000,
  timeoutInMs: 10_000,
};

/** `@azure/core-auth`'s TokenCredential, taken from the client's signature (core-auth is not a direct dependency). */
type TokenCredential = Extract<ConstructorParameters<typeof ServiceBusClient>[1], { getToken: unknown }>;

export interface ServiceBusJobSenderOptions {
  /** Overrides of the client's retry policy (tests use short ones). */
  retry?: Partial<typeof DEFAULT_SEND_RETRY>;
  /** Credential for identity-based access; DefaultAzureCredential (managed identity in Azure) when absent. */
  credential?: TokenCredential;
}

/** A job could not be put on its queue: the SDK's retries are spent or the failure is not retryable. */
export class QueueSendError extends Error {
  override readonly name = "QueueSendError";
  constructor(
    readonly queue: string,
    readonly jobType: JobType,
    /** Tries the SDK made (1 when the failure was not retryable). */
    readonly attempts: number,
    /** The Service Bus error code, e.g. `ServiceBusy`, `MessagingEntityNotFound`, `UnauthorizedAccess`. */
    readonly code: string | undefined,
    override readonly cause: unknown,
  ) {
    super(
      `could not send job "${jobType}" to Service Bus queue "${queue}" ` +
        `(${attempts} attempt${attempts === 1 ? "" : "s"}${code ? `, ${code}` : ""}): ${errorMessage(cause) || "no reason given"}`,
    );
  }
}

/** The queue port on Azure Service Bus: one queue per job type, the type as subject, the body as JSON. */
export class ServiceBusJobSender implements JobSender {
  private readonly client: ServiceBusClient;
  /** One sender (AMQP link) per queue, opened on first use and reused: links are costly to set up. */
  private readonly senders = new Map<string, ServiceBusSender>();
  private closed = false;

  constructor(
    private readonly config: AppConfig,
    options: ServiceBusJobSenderOptions = {},
  ) {
    const retryOptions: RetryOptions = { ...DEFAULT_SEND_RETRY, ...options.retry, mode: RetryMode.Exponential };
    const { SERVICEBUS_CONNECTION_STRING: connectionString, ServiceBusConnection__fullyQualifiedNamespace: namespace } = config.settings;
    if (connectionString) {
      this.client = new ServiceBusClient(connectionString, { retryOptions });
    } else if (namespace) {
      // Same setting the Functions Service Bus trigger reads for its identity-based connection.
      this.client = new ServiceBusClient(namespace, options.credential ?? new DefaultAzureCredential(), { retryOptions });
    } else {
      throw new ConfigError("Service Bus needs SERVICEBUS_CONNECTION_STRING or ServiceBusConnection__fullyQualifiedNamespace");
    }
  }

  async send<T extends JobType>(type: T, body: JobBody<T>, options: SendOptions = {}): Promise<void> {
    // Validate before anything goes on the wire: a malformed job is a bug, never a retry.
    const parsed = jobSchemas[type].parse(body);
    const queue = this.config.queue(type);
    if (this.closed) throw new QueueSendError(queue, type, 0, undefined, new Error("the sender is closed"));
    let sender = this.senders.get(queue);
    if (!sender) {
      sender = this.client.createSender(queue);
      this.senders.set(queue, sender);
    }
    try {
      await sender.sendMessages({
        body: parsed,
        messageId: options.messageId ?? randomUUID(),
        contentType: "application/json",
        subject: type,
        ...(options.delaySeconds ? { scheduledEnqueueTimeUtc: new Date(Date.now() + options.delaySeconds * 1000) } : {}),
      });
    } catch (error) {
      throw toQueueSendError(queue, type, error);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const senders = [...this.senders.values()];
    this.senders.clear();
    await Promise.allSettled(senders.map((s) => s.close()));
    await this.client.close();
  }
}

/**
 * When every try failed with a retryable error the SDK throws an AggregateError (with an empty message)
 * holding one error per try; the last one says why.
 */
function toQueueSendError(queue: string, type: JobType, error: unknown): QueueSendError {
  const tries = error instanceof AggregateError && error.errors.length > 0 ? error.errors : [error];
  const last: unknown = tries[tries.length - 1];
  const code = isServiceBusError(last) ? last.code : (last as { code?: unknown } | undefined)?.code;
  return new QueueSendError(queue, type, tries.length, typeof code === "string" ? code : undefined, last);
}

/** The job sender on Service Bus (QUEUE_TRANSPORT=servicebus); created on first use, since it opens AMQP links. */
export function createServiceBusSender(config: AppConfig, options?: ServiceBusJobSenderOptions): ServiceBusJobSender {
  return new ServiceBusJobSender(config, options);
}
