import { app } from "@azure/functions";
import { workerFunction, workerTrigger } from "../shared/jobs/worker.js";

/** Adds a large set of stored images to a campaign in the background. */
export const definition = workerFunction("campaignImagesWorker", "campaign-images");

// Listen where the app sends this job: Service Bus in Azure, Storage queues with QUEUE_TRANSPORT=storage (`func start`).
const { transport, options } = workerTrigger(definition);
if (transport === "storage") app.storageQueue(definition.name, options);
else app.serviceBusQueue(definition.name, options);
