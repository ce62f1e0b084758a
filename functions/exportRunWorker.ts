import { app } from "@azure/functions";
import { workerFunction, workerTrigger } from "../shared/jobs/worker.js";

/** Writes one export file (csv, json, coco, yolo, voc). */
export const definition = workerFunction("exportRunWorker", "export-run");

// Listen where the app sends this job: Service Bus in Azure, Storage queues with QUEUE_TRANSPORT=storage (`func start`).
const { transport, options } = workerTrigger(definition);
if (transport === "storage") app.storageQueue(definition.name, options);
else app.serviceBusQueue(definition.name, options);
