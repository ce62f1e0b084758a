import { errorMessage, PermanentJobError } from "../errors.js";
import { jobSchemas, type JobBody, type JobType } from "../queue/messages.js";
import type { Services } from "../services.js";

export interface JobLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface Delivery {
  messageId: string;
  deliveryCount: number;
  invocationId: string;
}

export interface JobDefinition<T extends JobType> {
  /** The resource the job is about, for log lines and traces, e.g. `imageset/3`. */
  resource(body: JobBody<T>): string;
  run(services: Services, body: JobBody<T>, log: JobLog, delivery: Delivery): Promise<void>;
  /** Called once the message will not be delivered again: the resource shows the failure instead of hanging. */
  fail(services: Services, body: JobBody<T>, reason: string): Promise<void>;
}

export type LogSink = (level: "info" | "warn" | "error", line: string) => void;

/** Structured log lines: every line a job writes names the invocation, message and resource, so one failure can be traced. */
export function jobLog(sink: LogSink, fields: Record<string, unknown>): JobLog {
  const write = (level: "info" | "warn" | "error") => (message: string) => sink(level, JSON.stringify({ level, ...fields, message }));
  return { info: write("info"), warn: write("warn"), error: write("error") };
}

/**
 * Runs one delivery of a job message. An invalid body, or a PermanentJobError, fails at once; any other
 * error is rethrown so the queue redelivers it, and on the last allowed delivery the resource is marked
 * failed first. The same code runs under the Functions host (Service Bus) and the local host (Storage queues).
 */
export async function runDelivery<T extends JobType>(
  services: Services,
  definition: JobDefinition<T>,
  type: T,
  rawBody: unknown,
  delivery: Delivery,
  sink: LogSink,
): Promise<void> {
  const parsed = jobSchemas[type].safeParse(rawBody);
  if (!parsed.success) {
    throw new PermanentJobError(`invalid ${type} message: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  const body = parsed.data as JobBody<T>;
  const log = jobLog(sink, {
    job: type,
    resource: definition.resource(body),
    invocationId: delivery.invocationId,
    messageId: delivery.messageId,
    delivery: delivery.deliveryCount,
  });
  const started = Date.now();
  try {
    await definition.run(services, body, log, delivery);
    log.info(`done in ${Date.now() - started} ms`);
  } catch (error) {
    const reason = errorMessage(error);
    const final = error instanceof PermanentJobError || delivery.deliveryCount >= services.config.settings.MAX_DELIVERY_COUNT;
    log.error(`${final ? "failed for good" : "failed, will retry"}: ${error instanceof Error ? (error.stack ?? reason) : reason}`);
    if (final) {
      try {
        await definition.fail(services, body, reason);
      } catch (markError) {
        log.error(`could not mark the resource failed: ${errorMessage(markError)}`);
      }
    }
    throw error;
  }
}
