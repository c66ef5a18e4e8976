// Manifest pieces the e2e scenarios and the demo write the same way.

/** `spec.telephony.twilio` of a VoiceAgent whose Twilio credentials are in the Secret `twilio`. */
export function twilioSecretRefs() {
  return {
    accountSidSecretRef: { name: 'twilio', key: 'account-sid' },
    authTokenSecretRef: { name: 'twilio', key: 'auth-token' },
  };
}

/** A MemoryStore the operator runs on PostgreSQL (postgres:17, 1Gi), deleted with its data; `spec` adds fields. */
export function postgresMemoryStore(name: string, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: 'callfleet.io/v1alpha1',
    kind: 'MemoryStore',
    metadata: { name },
    spec: {
      engine: 'postgres',
      postgres: { image: 'postgres:17', storage: { size: '1Gi' } },
      deletionPolicy: 'Delete',
      ...spec,
    },
  };
}
