import { app } from "@azure/functions";
import { workerFunction, workerTrigger } from "../shared/jobs/worker.js";

/** Renders one image's ground-truth mask. */
export const definition = workerFunction("maskRenderWorker", "mask-render");

// Listen where the app sends this job: Service Bus in Azure, Storage queues with QUEUE_TRANSPORT=storage (`func start`).
const { transport, options } = workerTrigger(definition);
if (transport === "storage") app.storageQueue(definition.name, options);
else app.serviceBusQueue(definition.name, options);
