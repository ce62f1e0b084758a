import { app } from "@azure/functions";
import { workerFunction } from "../shared/jobs/worker.js";

/** Runs export jobs. */
export const definition = workerFunction("exportWorker", "export-run");

app.serviceBusQueue(definition.name, { connection: "ServiceBusConnection", queueName: definition.type, handler: definition.handler });
