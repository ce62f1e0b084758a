// Azure resources for the image-labeling pipeline (deployed by `azd up` or `az deployment sub create`).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; seeds the unique suffix of every resource name.')
param environmentName string

@minLength(1)
@description('Region for all resources; it must offer the Flex Consumption plan (az functionapp list-flexconsumption-locations).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group name; rg-<environmentName> when empty.')
param resourceGroupName string = ''

@description('Object id of the person deploying (azd sets AZURE_PRINCIPAL_ID). Gets data access for `npm run create-admin` and for inspecting queues; leave empty to skip.')
param principalId string = ''

@allowed(['User', 'ServicePrincipal', 'Group'])
param principalType string = 'User'

@description('Most instances the Flex Consumption plan may scale out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

// App settings (see settingsSchema in shared/config.ts); defaults match the schema's.
param imageContainer string = 'images'
param imageFolder string = 'uploads'
param exportContainer string = 'exports'
@minValue(1)
@maxValue(7)
param dropboxSasDays int = 7
@minValue(1)
@maxValue(60)
param readSasMinutes int = 15
@description('Deliveries of a job message before Service Bus dead-letters it; also the app\'s MAX_DELIVERY_COUNT.')
@minValue(1)
@maxValue(100)
param maxDeliveryCount int = 5
@minValue(1)
@maxValue(128)
param copyConcurrency int = 16
param maxBodyBytes int = 16777216
@description('Azure ML workspace for data assets: all three or none.')
param azureMlSubscriptionId string = ''
param azureMlResourceGroup string = ''
param azureMlWorkspace string = ''
param azureMlDatastore string = 'workspaceblobstore'

// Must equal QUEUE_NAMES and TABLE_NAMES in shared/config.ts (test/unit/infra.test.ts checks).
// No RESOURCE_PREFIX in Azure: one deployment owns its storage account and namespace.
var queueNames = [
  'imageset-copy'
  'campaign-submission'
  'campaign-images'
  'campaign-finish'
  'export-run'
  'mask-plan'
  'mask-render'
  'mask-zip'
  'webhook-dispatch'
  'webhook-deliver'
]
var tableNames = [
  'users'
  'records'
  'campaignData'
  'exports'
]

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = 'func-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'

// Built-in role definition ids.
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource rg 'Microsoft.Resources/resourceGroups@2022-09-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    containerNames: [
      imageContainer
      exportContainer
      deploymentContainerName
    ]
    tableNames: tableNames
    consoleOrigins: ['https://${functionAppName}.azurewebsites.net']
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  scope: rg
  params: {
    name: 'sb-${resourceToken}'
    location: location
    tags: tags
    queueNames: queueNames
    maxDeliveryCount: maxDeliveryCount
    lockDuration: 'PT5M'
    duplicateDetectionWindow: 'PT10M'
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    serviceName: 'api'
    storageAccountName: storage.outputs.name
    deploymentStorageContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    serviceBusFullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    imageContainer: imageContainer
    imageFolder: imageFolder
    exportContainer: exportContainer
    dropboxSasDays: dropboxSasDays
    readSasMinutes: readSasMinutes
    maxDeliveryCount: maxDeliveryCount
    copyConcurrency: copyConcurrency
    maxBodyBytes: maxBodyBytes
    azureMlSubscriptionId: azureMlSubscriptionId
    azureMlResourceGroup: azureMlResourceGroup
    azureMlWorkspace: azureMlWorkspace
    azureMlDatastore: azureMlDatastore
  }
}

// The app's identity. Blob Data Owner (not Contributor alone): it reads the deployment package,
// creates and deletes dropbox containers, and asks for user delegation keys to sign SAS URLs.
// Queue Data Contributor serves the Functions host's own use of AzureWebJobsStorage.
// Service Bus Data Owner: send and receive, plus the entity reads the trigger's scaling needs.
module appRoles 'modules/roles.bicep' = {
  name: 'app-roles'
  scope: rg
  params: {
    principalId: functionApp.outputs.principalId
    principalType: 'ServicePrincipal'
    storageAccountName: storage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    storageRoleIds: [
      roles.storageBlobDataOwner
      roles.storageTableDataContributor
      roles.storageQueueDataContributor
    ]
    serviceBusRoleIds: [
      roles.serviceBusDataOwner
    ]
    applicationInsightsRoleIds: [
      roles.monitoringMetricsPublisher
    ]
  }
}

// The deployer: runs `npm run create-admin` against the tables and inspects dead-letter queues.
module deployerRoles 'modules/roles.bicep' = if (!empty(principalId)) {
  name: 'deployer-roles'
  scope: rg
  params: {
    principalId: principalId
    principalType: principalType
    storageAccountName: storage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    storageRoleIds: [
      roles.storageBlobDataContributor
      roles.storageTableDataContributor
    ]
    serviceBusRoleIds: [
      roles.serviceBusDataOwner
    ]
  }
}

// azd stores these in .azure/<env>/.env (`azd env get-values`).
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output API_BASE_URL string = 'https://${functionApp.outputs.defaultHostName}/api/v1'
output STORAGE_ACCOUNT_NAME string = storage.outputs.name
output SERVICEBUS_NAMESPACE string = serviceBus.outputs.name
output ServiceBusConnection__fullyQualifiedNamespace string = serviceBus.outputs.fullyQualifiedNamespace
