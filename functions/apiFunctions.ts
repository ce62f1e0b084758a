/**
 * The API's HTTP functions: every route the OpenAPI document describes, except the document itself
 * (functions/getOpenApi.ts), which takes this list and adds itself. A list of its own so that neither the
 * document nor functions/index.ts imports the other.
 */
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { definition as addCampaignImages } from "./addCampaignImages.js";
import { definition as addImageSetImages } from "./addImageSetImages.js";
import { definition as createCampaign } from "./createCampaign.js";
import { definition as createExport } from "./createExport.js";
import { definition as createImageSet } from "./createImageSet.js";
import { definition as createLabelImages } from "./createLabelImages.js";
import { definition as createWebhook } from "./createWebhook.js";
import { definition as deleteWebhook } from "./deleteWebhook.js";
import { definition as getAddition } from "./getAddition.js";
import { definition as getCampaign } from "./getCampaign.js";
import { definition as getCampaignLabels } from "./getCampaignLabels.js";
import { definition as getCampaignStats } from "./getCampaignStats.js";
import { definition as getConsole } from "./getConsole.js";
import { definition as getConsoleAsset } from "./getConsoleAsset.js";
import { definition as getExport } from "./getExport.js";
import { definition as getImage } from "./getImage.js";
import { definition as getImageLabelHistory } from "./getImageLabelHistory.js";
import { definition as getImageObjects } from "./getImageObjects.js";
import { definition as getImageSet } from "./getImageSet.js";
import { definition as getLabelerStats } from "./getLabelerStats.js";
import { definition as getMe } from "./getMe.js";
import { definition as getStatus } from "./getStatus.js";
import { definition as getThumbnail } from "./getThumbnail.js";
import { definition as getVersion } from "./getVersion.js";
import { definition as getWebhook } from "./getWebhook.js";
import { definition as latestLabels } from "./latestLabels.js";
import { definition as listCampaignImages } from "./listCampaignImages.js";
import { definition as listCampaignObjects } from "./listCampaignObjects.js";
import { definition as listCampaigns } from "./listCampaigns.js";
import { definition as listExports } from "./listExports.js";
import { definition as listImageSetImages } from "./listImageSetImages.js";
import { definition as listImageSets } from "./listImageSets.js";
import { definition as listImages } from "./listImages.js";
import { definition as listLabelers } from "./listLabelers.js";
import { definition as listRejectedImages } from "./listRejectedImages.js";
import { definition as listThumbnails } from "./listThumbnails.js";
import { definition as listWebhookDeliveries } from "./listWebhookDeliveries.js";
import { definition as listWebhooks } from "./listWebhooks.js";
import { definition as markCampaignTestData } from "./markCampaignTestData.js";
import { definition as pingWebhook } from "./pingWebhook.js";
import { definition as redeliverWebhook } from "./redeliverWebhook.js";
import { definition as removeLabelerCampaign } from "./removeLabelerCampaign.js";
import { definition as reviewCampaignImages } from "./reviewCampaignImages.js";
import { definition as revokeLabeler } from "./revokeLabeler.js";
import { definition as rotateLabelerSecret } from "./rotateLabelerSecret.js";
import { definition as submitCampaignObjects } from "./submitCampaignObjects.js";
import { definition as updateCampaign } from "./updateCampaign.js";
import { definition as updateImageSet } from "./updateImageSet.js";
import { definition as updateLabeler } from "./updateLabeler.js";
import { definition as updateWebhook } from "./updateWebhook.js";

export const apiFunctions: HttpFunctionDefinition[] = [
  addCampaignImages,
  addImageSetImages,
  createCampaign,
  createExport,
  createImageSet,
  createLabelImages,
  createWebhook,
  deleteWebhook,
  getAddition,
  getCampaign,
  getCampaignLabels,
  getCampaignStats,
  getConsole,
  getConsoleAsset,
  getExport,
  getImage,
  getImageLabelHistory,
  getImageObjects,
  getImageSet,
  getLabelerStats,
  getMe,
  getStatus,
  getThumbnail,
  getVersion,
  getWebhook,
  latestLabels,
  listCampaignImages,
  listCampaignObjects,
  listCampaigns,
  listExports,
  listImageSetImages,
  listImageSets,
  listImages,
  listLabelers,
  listRejectedImages,
  listThumbnails,
  listWebhookDeliveries,
  listWebhooks,
  markCampaignTestData,
  pingWebhook,
  redeliverWebhook,
  removeLabelerCampaign,
  reviewCampaignImages,
  revokeLabeler,
  rotateLabelerSecret,
  submitCampaignObjects,
  updateCampaign,
  updateImageSet,
  updateLabeler,
  updateWebhook,
];
