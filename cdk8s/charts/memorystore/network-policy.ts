// postgres: only pods labelled callfleet.io/memorystore=<name> (gateways of VoiceAgents that reference
// this store, and the backup job) reach PostgreSQL. external: an egress-only policy that lets those
// pods reach the database port (the host is in the user's Secret, so the destination is any address).
import type { V1NetworkPolicyEgressRule } from '@kubernetes/client-node';
import type { Chart } from 'cdk8s';
import { child } from '../children.ts';
import { MEMORYSTORE_LABEL } from '../labels.ts';
import { DEFAULT_OPERATOR_NAMESPACE } from '../voiceagent/model.ts';
import { type MemoryStoreModel, POSTGRES_PORT } from './model.ts';

const clients = (m: MemoryStoreModel) => ({ matchLabels: { [MEMORYSTORE_LABEL]: m.owner.name } });

export function addPostgresNetworkPolicy(chart: Chart, m: MemoryStoreModel): void {
  child(chart, 'networkpolicy', 'NetworkPolicy', {
    metadata: { name: m.names.statefulSet, labels: m.labels('network-policy') },
    spec: {
      podSelector: { matchLabels: m.selector },
      policyTypes: ['Ingress'],
      ingress: [
        {
          // The store's clients, and the operator (database probes, CallCampaign dialers).
          from: [
            { podSelector: clients(m) },
            {
              namespaceSelector: {
                matchLabels: {
                  'kubernetes.io/metadata.name': m.ctx.operatorNamespace ?? DEFAULT_OPERATOR_NAMESPACE,
                },
              },
            },
          ],
          ports: [{ protocol: 'TCP', port: POSTGRES_PORT }],
        },
      ],
    },
  });
}

/** DNS and the bucket's port, for the backup job (its pods carry the store label this policy selects). */
function bucketEgress(m: MemoryStoreModel): V1NetworkPolicyEgressRule[] {
  const o = m.spec.objectStorage;
  if (!o) return [];
  const url = o.endpoint ? new URL(o.endpoint) : undefined;
  const port = url?.port ? Number(url.port) : url?.protocol === 'http:' ? 80 : 443;
  return [
    {
      ports: [
        { protocol: 'UDP', port: 53 },
        { protocol: 'TCP', port: 53 },
      ],
    },
    { ports: [{ protocol: 'TCP', port }] },
  ];
}

export function addExternalNetworkPolicy(chart: Chart, m: MemoryStoreModel): void {
  child(chart, 'networkpolicy', 'NetworkPolicy', {
    metadata: { name: `${m.owner.name}-egress`, labels: m.labels('network-policy') },
    spec: {
      podSelector: clients(m),
      policyTypes: ['Egress'],
      egress: [
        { to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ protocol: 'TCP', port: POSTGRES_PORT }] },
        ...bucketEgress(m),
      ],
    },
  });
}
