/**
 * The app's entry point (package.json "main"): importing each function file registers it with the Functions
 * host, and the lists below give the local host the same set (a test checks both against what is registered).
 */
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import type { WorkerFunctionDefinition } from "../shared/jobs/worker.js";
import { apiFunctions } from "./apiFunctions.js";
import { definition as campaignFinishWorker } from "./campaignFinishWorker.js";
import { definition as campaignImagesWorker } from "./campaignImagesWorker.js";
import { definition as campaignSubmissionWorker } from "./campaignSubmissionWorker.js";
import { definition as exportRunWorker } from "./exportRunWorker.js";
import { definition as getOpenApi } from "./getOpenApi.js";
import { definition as imageSetCopyWorker } from "./imageSetCopyWorker.js";
import { definition as maskPlanWorker } from "./maskPlanWorker.js";
import { definition as maskRenderWorker } from "./maskRenderWorker.js";
import { definition as maskZipWorker } from "./maskZipWorker.js";
import { definition as webhookDeliverWorker } from "./webhookDeliverWorker.js";
import { definition as webhookDispatchWorker } from "./webhookDispatchWorker.js";

export const httpFunctions: HttpFunctionDefinition[] = [...apiFunctions, getOpenApi];

/** One worker per queue (QUEUE_NAMES), named after its job module: `mask-plan` is maskPlanWorker running shared/jobs/maskPlan.ts. */
export const workerFunctions: WorkerFunctionDefinition[] = [
  campaignFinishWorker,
  campaignImagesWorker,
  campaignSubmissionWorker,
  exportRunWorker,
  imageSetCopyWorker,
  maskPlanWorker,
  maskRenderWorker,
  maskZipWorker,
  webhookDeliverWorker,
  webhookDispatchWorker,
];
