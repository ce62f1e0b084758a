import { app } from "@azure/functions";
import { workerFunction } from "../shared/jobs/worker.js";

/** Adds a large set of stored images to a campaign in the background. */
export const definition = workerFunction("campaignImagesWorker", "campaign-images");

app.serviceBusQueue(definition.name, { connection: "ServiceBusConnection", queueName: definition.type, handler: definition.handler });
