import { loadConfig, type Settings } from "../config.js";
import { PermanentJobError } from "../errors.js";
import { isJobEnvelope, type JobType } from "../queue/messages.js";
import { getServices } from "../services.js";
import { jobs } from "./index.js";
import { runDelivery, type LogSink } from "./runtime.js";
import { stringColumn } from "../storage/rows.js";

/** The part of the host's InvocationContext a worker uses. */
export interface WorkerContextLike {
  readonly invocationId: string;
  readonly triggerMetadata?: Record<string, unknown>;
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** A worker's handler, as both hosts call it: the received message and the invocation context. */
export type WorkerHandler = (message: unknown, context: WorkerContextLike) => Promise<void>;

/** A queue-triggered function: its name (and file), the job type (and queue) it runs, and its handler. */
export interface WorkerFunctionDefinition {
  name: string;
  type: JobType;
  handler: WorkerHandler;
}

/**
 * A queue-triggered function for one job type. It takes a message as any of its hosts hands it over:
 * - the Service Bus trigger (Azure): the job body; `deliveryCount` and `messageId` in the trigger metadata;
 * - the Storage-queue trigger (`func start` with QUEUE_TRANSPORT=storage): the envelope `{type, messageId, body}`
 *   that StorageQueueJobSender wrote, decoded from base64 and parsed; `dequeueCount` in the trigger metadata,
 *   which is what the host compares with host.json's `maxDequeueCount` before it moves the message to `-poison`;
 * - the local host (`npm start`): the job body, with `deliveryCount` and `messageId` filled in like Service Bus.
 * A JSON string is parsed first. Whatever the host, the delivery that reaches MAX_DELIVERY_COUNT marks the
 * resource failed before it throws, so the message the host then dead-letters is never left hanging.
 */
export function workerFunction(name: string, type: JobType): WorkerFunctionDefinition {
  return {
    name,
    type,
    handler: async (message, context) => {
      const meta = context.triggerMetadata ?? {};
      const received = typeof message === "string" ? safeJson(message) : message;
      const envelope = isJobEnvelope(received) ? received : undefined;
      if (envelope && envelope.type !== type) throw new PermanentJobError(`a ${envelope.type} message on the ${type} queue`);
      const sink: LogSink = (level, line) => (level === "info" ? context.log(line) : level === "warn" ? context.warn(line) : context.error(line));
      await runDelivery(
        getServices(),
        jobs[type] as never,
        type,
        envelope ? envelope.body : received,
        {
          // The envelope's id is the sender's (the one Service Bus would deduplicate on); the queue's own id otherwise.
          messageId: envelope?.messageId ?? stringColumn(meta, "messageId", stringColumn(meta, "id", context.invocationId)),
          deliveryCount: deliveriesOf(meta),
          invocationId: context.invocationId,
        },
        sink,
      );
    },
  };
}

/** Deliveries so far, this one included: Service Bus and the local host say `deliveryCount`, Storage queues `dequeueCount`. */
function deliveriesOf(meta: Record<string, unknown>): number {
  const count = Number(meta.deliveryCount ?? meta.dequeueCount ?? 1);
  return Number.isInteger(count) && count > 0 ? count : 1;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** App setting of the Service Bus triggers' identity-based connection (`ServiceBusConnection__fullyQualifiedNamespace`). */
export const SERVICE_BUS_CONNECTION = "ServiceBusConnection";
/**
 * App setting whose connection string the Storage-queue triggers use: the account the app sends its jobs to, so
 * the host listens where the jobs are (AzureWebJobsStorage is the host's own storage and may be another account).
 */
export const STORAGE_QUEUE_CONNECTION = "STORAGE_CONNECTION_STRING";

export interface WorkerTrigger {
  /** QUEUE_TRANSPORT: `storage` is registered as a Storage-queue trigger, `servicebus` as a Service Bus one. */
  transport: Settings["QUEUE_TRANSPORT"];
  options: { queueName: string; connection: string; handler: WorkerHandler };
}

/**
 * The trigger a worker registers with the Functions host, read when the host loads the app from the settings the
 * app sends its jobs with: the transport (QUEUE_TRANSPORT) and the queue name (RESOURCE_PREFIX included), so the
 * host listens on exactly the queue each job goes to. Invalid settings fail here, when the app loads.
 */
export function workerTrigger(definition: WorkerFunctionDefinition, env: Record<string, string | undefined> = process.env): WorkerTrigger {
  const config = loadConfig(env);
  const transport = config.settings.QUEUE_TRANSPORT;
  return {
    transport,
    options: {
      queueName: config.queue(definition.type),
      connection: transport === "storage" ? STORAGE_QUEUE_CONNECTION : SERVICE_BUS_CONNECTION,
      handler: definition.handler,
    },
  };
}
