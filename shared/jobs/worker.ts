import type { JobType } from "../queue/messages.js";
import { getServices } from "../services.js";
import { jobs } from "./index.js";
import { runDelivery, type LogSink } from "./runtime.js";

/** The part of the host's InvocationContext a worker uses. */
export interface WorkerContextLike {
  readonly invocationId: string;
  readonly triggerMetadata?: Record<string, unknown>;
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

export interface WorkerFunctionDefinition {
  name: string;
  type: JobType;
  handler: (message: unknown, context: WorkerContextLike) => Promise<void>;
}

/**
 * A queue-triggered function for one job type. Delivery facts come from the trigger metadata that the
 * Service Bus trigger provides (`deliveryCount`, `messageId`), and that the local host fills the same way.
 */
export function workerFunction(name: string, type: JobType): WorkerFunctionDefinition {
  return {
    name,
    type,
    handler: async (message, context) => {
      const meta = context.triggerMetadata ?? {};
      const sink: LogSink = (level, line) => (level === "info" ? context.log(line) : level === "warn" ? context.warn(line) : context.error(line));
      const definition = jobs[type];
      await runDelivery(
        getServices(),
        definition as never,
        type,
        typeof message === "string" ? safeJson(message) : message,
        { messageId: String(meta.messageId ?? context.invocationId), deliveryCount: Number(meta.deliveryCount ?? 1), invocationId: context.invocationId },
        sink,
      );
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
