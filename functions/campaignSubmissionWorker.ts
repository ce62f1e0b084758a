import { app } from "@azure/functions";
import { workerFunction } from "../shared/jobs/worker.js";

/** Settles a label batch after its request: aborts an uncommitted one, finishes applying a committed one, queues missing progress. */
export const definition = workerFunction("campaignSubmissionWorker", "campaign-submission");

app.serviceBusQueue(definition.name, { connection: "ServiceBusConnection", queueName: definition.type, handler: definition.handler });
