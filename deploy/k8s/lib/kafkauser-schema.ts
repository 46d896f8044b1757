/**
 * Strict schema for KafkaUser (kafka.strimzi.io/v1), written for this project from the Strimzi
 * API reference because ../shared/schemas has no KafkaUser CRD. It covers the fields these
 * manifests may use (authentication, simple authorization, userName, quotas) and rejects any
 * other, like the CRD-derived schemas. When 044-Crd-kafkauser.yaml is added to the shared
 * schemas folder, lib/schemas.ts uses that instead.
 */
const str = { type: 'string' } as const;
const aclRule = {
  type: 'object',
  additionalProperties: false,
  required: ['resource', 'operations'],
  properties: {
    type: { enum: ['allow', 'deny'] },
    host: str,
    resource: {
      type: 'object',
      additionalProperties: false,
      required: ['type'],
      properties: {
        type: { enum: ['topic', 'group', 'cluster', 'transactionalId'] },
        name: str,
        patternType: { enum: ['literal', 'prefix'] },
      },
    },
    operations: {
      type: 'array',
      minItems: 1,
      items: { enum: ['Read', 'Write', 'Create', 'Delete', 'Alter', 'Describe', 'ClusterAction', 'AlterConfigs', 'DescribeConfigs', 'IdempotentWrite', 'All'] },
    },
  },
} as const;

export const KAFKA_USER_SUBSET_SCHEMA = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: 'kafka.strimzi.io/v1' },
    kind: { const: 'KafkaUser' },
    metadata: { type: 'object' },
    spec: {
      type: 'object',
      additionalProperties: false,
      properties: {
        userName: str,
        authentication: {
          type: 'object',
          additionalProperties: false,
          required: ['type'],
          properties: { type: { enum: ['tls', 'tls-external', 'scram-sha-512'] } },
        },
        authorization: {
          type: 'object',
          additionalProperties: false,
          required: ['type', 'acls'],
          properties: { type: { const: 'simple' }, acls: { type: 'array', items: aclRule } },
        },
        quotas: {
          type: 'object',
          additionalProperties: false,
          properties: {
            producerByteRate: { type: 'integer', minimum: 0 },
            consumerByteRate: { type: 'integer', minimum: 0 },
            requestPercentage: { type: 'integer', minimum: 0 },
            controllerMutationRate: { type: 'number', minimum: 0 },
          },
        },
      },
    },
  },
} as const;
