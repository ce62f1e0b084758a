import { app } from "@azure/functions";
import { workerFunction } from "../shared/jobs/worker.js";

/** Keeps a campaign's done count and completes it. */
export const definition = workerFunction("campaignProgressWorker", "campaign-progress");

// Sessions (one per campaign) serialise a campaign's progress messages; other campaigns run in parallel.
app.serviceBusQueue(definition.name, { connection: "ServiceBusConnection", queueName: definition.type, isSessionsEnabled: true, handler: definition.handler });
