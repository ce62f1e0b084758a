// Service Bus namespace with one queue per job type. Standard tier: Basic has no duplicate
// detection. Local (SAS key) auth is disabled; clients use Microsoft Entra ID only.

param name string
param location string
param tags object = {}
@description('One queue per job type (QUEUE_NAMES in shared/config.ts).')
param queueNames array
@description('Deliveries before a message is dead-lettered; the app reads the same number as MAX_DELIVERY_COUNT.')
param maxDeliveryCount int
@description('Peek-lock length per delivery (at most 5 minutes); the Functions host renews it while a job runs.')
param lockDuration string = 'PT5M'
@description('Window in which a second message with the same message id is dropped.')
param duplicateDetectionWindow string = 'PT10M'

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

resource queues 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = [
  for queueName in queueNames: {
    parent: namespace
    name: queueName
    properties: {
      lockDuration: lockDuration
      maxDeliveryCount: maxDeliveryCount
      deadLetteringOnMessageExpiration: true
      defaultMessageTimeToLive: 'P14D'
      requiresDuplicateDetection: true
      duplicateDetectionHistoryTimeWindow: duplicateDetectionWindow
      enablePartitioning: false
      maxSizeInMegabytes: 1024
    }
  }
]

output name string = namespace.name
output id string = namespace.id
// serviceBusEndpoint is https://<name>.servicebus.windows.net:443/ (the host differs in sovereign clouds).
output fullyQualifiedNamespace string = split(split(namespace.properties.serviceBusEndpoint, '//')[1], ':')[0]
