import { app } from "@azure/functions";
import { workerFunction } from "../shared/jobs/worker.js";

/** Writes a finished campaign's label set and ML datasets. */
export const definition = workerFunction("campaignFinishWorker", "campaign-finish");

app.serviceBusQueue(definition.name, { connection: "ServiceBusConnection", queueName: definition.type, handler: definition.handler });
