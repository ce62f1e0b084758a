import { app } from "@azure/functions";
import { workerFunction } from "../shared/jobs/worker.js";

/** Copies a finished image set's dropbox into the image store. */
export const definition = workerFunction("imagesetCopyWorker", "imageset-copy");

app.serviceBusQueue(definition.name, { connection: "ServiceBusConnection", queueName: definition.type, handler: definition.handler });
