import { AzureMachineLearningWorkspaces } from "@azure/arm-machinelearning";
import { DefaultAzureCredential } from "@azure/identity";
import type { AppConfig } from "./config.js";

export interface DataAsset {
  name: string;
  /** `azureml://datastores/<datastore>/paths/<folder holding the MLTable>/` */
  dataUri: string;
  description: string;
}

/**
 * Whether an Azure ML workspace is configured (subscription, resource group and workspace: loadConfig
 * accepts all three or none); without one, finishing a campaign writes its MLTable files but registers no data assets.
 */
export function azureMlConfigured(config: AppConfig): boolean {
  return Boolean(config.settings.AZUREML_SUBSCRIPTION_ID && config.settings.AZUREML_RESOURCE_GROUP && config.settings.AZUREML_WORKSPACE);
}

/** The datastore URI of a folder in the image container (AZUREML_DATASTORE must point at that container). */
export function datastoreUri(config: AppConfig, folder: string): string {
  return `azureml://datastores/${config.settings.AZUREML_DATASTORE}/paths/${folder.replace(/^\/+|\/+$/g, "")}/`;
}

function client(config: AppConfig): AzureMachineLearningWorkspaces {
  return new AzureMachineLearningWorkspaces(new DefaultAzureCredential(), config.settings.AZUREML_SUBSCRIPTION_ID!);
}

/**
 * Registers MLTable data assets as version "1" (campaign titles are unique and a finished campaign does
 * not change, so a repeated registration is the same create-or-update).
 */
export async function registerDataAssets(config: AppConfig, assets: DataAsset[]): Promise<void> {
  const ml = client(config);
  for (const asset of assets) {
    await ml.dataVersions.createOrUpdate(config.settings.AZUREML_RESOURCE_GROUP!, config.settings.AZUREML_WORKSPACE!, asset.name, "1", {
      properties: { dataType: "mltable", dataUri: asset.dataUri, description: asset.description },
    });
  }
}

/** For the status route: can the workspace be read with the app's identity? */
export async function checkWorkspace(config: AppConfig): Promise<void> {
  await client(config).workspaces.get(config.settings.AZUREML_RESOURCE_GROUP!, config.settings.AZUREML_WORKSPACE!);
}
