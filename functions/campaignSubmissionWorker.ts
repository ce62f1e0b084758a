import { app } from "@azure/functions";
import { workerFunction, workerTrigger } from "../shared/jobs/worker.js";

/** Settles a label batch after its request: aborts an uncommitted one, finishes applying a committed one, queues missing progress. */
export const definition = workerFunction("campaignSubmissionWorker", "campaign-submission");

// Listen where the app sends this job: Service Bus in Azure, Storage queues with QUEUE_TRANSPORT=storage (`func start`).
const { transport, options } = workerTrigger(definition);
if (transport === "storage") app.storageQueue(definition.name, options);
else app.serviceBusQueue(definition.name, options);
