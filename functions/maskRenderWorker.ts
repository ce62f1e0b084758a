import { app } from "@azure/functions";
import { workerFunction } from "../shared/jobs/worker.js";

/** Renders one image's ground-truth mask. */
export const definition = workerFunction("maskRenderWorker", "mask-render");

app.serviceBusQueue(definition.name, { connection: "ServiceBusConnection", queueName: definition.type, handler: definition.handler });
