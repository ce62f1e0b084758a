import { app } from "@azure/functions";
import { workerFunction, workerTrigger } from "../shared/jobs/worker.js";

/** Zips a mask export's output folder into its download once every image is rendered. */
export const definition = workerFunction("maskZipWorker", "mask-zip");

// Listen where the app sends this job: Service Bus in Azure, Storage queues with QUEUE_TRANSPORT=storage (`func start`).
const { transport, options } = workerTrigger(definition);
if (transport === "storage") app.storageQueue(definition.name, options);
else app.serviceBusQueue(definition.name, options);
