// Function App on the Flex Consumption plan (Linux, Node 22) with a system-assigned identity.
// Every connection is identity-based: no connection string or key appears in the app settings.

param name string
param planName string
param location string
param tags object = {}
@description('azd service name in azure.yaml; azd finds the app to deploy to by this tag.')
param serviceName string = 'api'
param storageAccountName string
param deploymentStorageContainerName string
param applicationInsightsName string
param serviceBusFullyQualifiedNamespace string
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

// App settings of settingsSchema (shared/config.ts); defaults equal the schema's defaults.
param imageContainer string
param imageFolder string
param exportContainer string
param dropboxSasDays int
param readSasMinutes int
param maxDeliveryCount int
param copyConcurrency int
param maxBodyBytes int
param azureMlSubscriptionId string
param azureMlResourceGroup string
param azureMlWorkspace string
param azureMlDatastore string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentStorageContainerName}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      // The Node major of package.json's engines (test/unit/infra.test.ts holds them together); .ci/run
      // runs the test suite on it too.
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

// Flex Consumption takes the runtime from functionAppConfig and rejects FUNCTIONS_WORKER_RUNTIME
// and FUNCTIONS_EXTENSION_VERSION, so neither is set here.
var appSettings = {
  // Functions host storage (leases, keys) over the managed identity.
  AzureWebJobsStorage__accountName: storage.name
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
  // Read by the Service Bus triggers (connection "ServiceBusConnection") and by ServiceBusJobSender.
  ServiceBusConnection__fullyQualifiedNamespace: serviceBusFullyQualifiedNamespace
  QUEUE_TRANSPORT: 'servicebus'
  STORAGE_ACCOUNT_NAME: storage.name
  SAS_SIGNING: 'userDelegation'
  IMAGE_CONTAINER: imageContainer
  IMAGE_FOLDER: imageFolder
  EXPORT_CONTAINER: exportContainer
  DROPBOX_SAS_DAYS: string(dropboxSasDays)
  READ_SAS_MINUTES: string(readSasMinutes)
  MAX_DELIVERY_COUNT: string(maxDeliveryCount)
  COPY_CONCURRENCY: string(copyConcurrency)
  MAX_BODY_BYTES: string(maxBodyBytes)
  // Empty values mean "not configured" (the three go together or not at all).
  AZUREML_SUBSCRIPTION_ID: azureMlSubscriptionId
  AZUREML_RESOURCE_GROUP: azureMlResourceGroup
  AZUREML_WORKSPACE: azureMlWorkspace
  AZUREML_DATASTORE: azureMlDatastore
  // Webhook targets on private, loopback and link-local addresses would reach inside Azure: never allowed here.
  WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false'
  WEBHOOK_RETRY_SCHEDULE: '5,300,1800,7200,18000,36000,36000'
}

resource functionAppSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: appSettings
}

output name string = functionApp.name
output principalId string = functionApp.identity.principalId
output defaultHostName string = functionApp.properties.defaultHostName
