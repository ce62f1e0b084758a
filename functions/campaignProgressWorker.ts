import { app } from "@azure/functions";
import { workerFunction } from "../shared/jobs/worker.js";

/** Keeps a campaign's done count and completes it. */
export const definition = workerFunction("campaignProgressWorker", "campaign-progress");

app.serviceBusQueue(definition.name, { connection: "ServiceBusConnection", queueName: definition.type, handler: definition.handler });
