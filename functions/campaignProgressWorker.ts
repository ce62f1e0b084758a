import { app } from "@azure/functions";
import { workerFunction, workerTrigger } from "../shared/jobs/worker.js";

/** Keeps a campaign's done count and completes it. */
export const definition = workerFunction("campaignProgressWorker", "campaign-progress");

// Listen where the app sends this job: Service Bus in Azure, Storage queues with QUEUE_TRANSPORT=storage (`func start`).
const { transport, options } = workerTrigger(definition);
if (transport === "storage") app.storageQueue(definition.name, options);
// Sessions (one per campaign) serialise a campaign's progress messages; other campaigns run in parallel.
else app.serviceBusQueue(definition.name, { ...options, isSessionsEnabled: true });
