// The app's storage account: blob containers (images, exports, the Flex deployment package),
// tables for records. No queues: in Azure QUEUE_TRANSPORT=servicebus, so job messages go to
// Service Bus; Storage queues are only used by the local host on Azurite.
// Shared-key access is off, so nothing can use an account key; SAS URLs are user-delegation SAS.

param name string
param location string
param tags object = {}
@description('Blob containers to create.')
param containerNames array
@description('Tables to create.')
param tableNames array
@description('Origins of the web console (the Function App), allowed by blob CORS to upload to dropbox SAS URLs and read export files.')
param consoleOrigins array = []

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    // The console's browser uploads (dropbox SAS, PUT in blocks) and ranged reads of export zips (GET), from its origin only.
    cors: {
      corsRules: empty(consoleOrigins) ? [] : [
        {
          allowedOrigins: consoleOrigins
          allowedMethods: ['GET', 'HEAD', 'PUT', 'OPTIONS']
          allowedHeaders: ['x-ms-*', 'content-type', 'content-length', 'range', 'if-match', 'if-none-match']
          exposedHeaders: ['x-ms-*', 'content-length', 'content-range', 'content-type', 'etag', 'last-modified']
          maxAgeInSeconds: 3600
        }
      ]
    }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for containerName in containerNames: {
    parent: blobService
    name: containerName
    properties: {
      publicAccess: 'None'
    }
  }
]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for tableName in tableNames: {
    parent: tableService
    name: tableName
  }
]

output name string = storage.name
output id string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
