// Two doors (rule 10): the public port admits anyone (load balancers, Twilio, ElevenLabs); the
// internal port (status, metrics, data-rights API) admits only the operator's namespace, the
// Prometheus namespace and spec.networkPolicy.internalFrom. Egress only to DNS, the MemoryStore and
// HTTPS (Twilio, agent backends), plus the explicit port of a backend URL when it is not 443.
import type { V1NetworkPolicyEgressRule, V1NetworkPolicyPeer } from '@kubernetes/client-node';
import type { Chart } from 'cdk8s';
import { child, type NetworkPolicyIngressRule, passthroughAs } from '../children.ts';
import { postgresSelector } from '../labels.ts';
import { GATEWAY_PORT, INTERNAL_PORT, type VoiceAgentModel } from './model.ts';

export const POSTGRES_PORT = 5432;

/** Ports of non-https backend URLs in the spec (e.g. ws://pipeline:9000). */
function extraBackendPorts(m: VoiceAgentModel): number[] {
  const { agent } = m.spec;
  // The recordings bucket too, when its endpoint is not on 443 (e.g. MinIO on :9000).
  const bucket = m.spec.calls.recording ? m.memory?.objectStorage?.endpoint : undefined;
  const urls = [
    agent.websocket?.url,
    agent.elevenlabs?.baseUrl,
    agent.openaiRealtime?.baseUrl,
    bucket,
  ].filter((u): u is string => u !== undefined);
  const ports = new Set<number>();
  for (const raw of urls) {
    const url = new URL(raw);
    const port = url.port ? Number(url.port) : url.protocol === 'http:' || url.protocol === 'ws:' ? 80 : 443;
    if (port !== 443) ports.add(port);
  }
  return [...ports].sort((a, b) => a - b);
}

const namespacePeer = (name: string): V1NetworkPolicyPeer => ({
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': name } },
});

/** Who may reach the internal port: the operator's namespace, Prometheus, spec.networkPolicy.internalFrom. */
export function internalPeers(m: VoiceAgentModel): V1NetworkPolicyPeer[] {
  const peers: V1NetworkPolicyPeer[] = [namespacePeer(m.operatorNamespace)];
  const monitoringNs = m.spec.monitoring.prometheusNamespace;
  if (monitoringNs && monitoringNs !== m.operatorNamespace) peers.push(namespacePeer(monitoringNs));
  for (const p of m.spec.networkPolicy?.internalFrom ?? []) {
    peers.push({
      ...(p.namespace ? namespacePeer(p.namespace) : {}),
      ...(p.podLabels ? { podSelector: { matchLabels: p.podLabels } } : {}),
    });
  }
  return peers;
}

export function addNetworkPolicy(chart: Chart, m: VoiceAgentModel): void {
  const tcp = (port: number) => ({ protocol: 'TCP', port });
  const ingress: NetworkPolicyIngressRule[] = [
    { ports: [tcp(GATEWAY_PORT)] },
    { from: internalPeers(m), ports: [tcp(INTERNAL_PORT)] },
  ];
  const egress: V1NetworkPolicyEgressRule[] = [
    { ports: [{ protocol: 'UDP', port: 53 }, tcp(53)] },
    { ports: [tcp(443)] },
  ];
  const extra = extraBackendPorts(m);
  if (extra.length) egress.push({ ports: extra.map(tcp) });
  if (m.memory?.engine === 'cloudnative-pg' && m.memory.cluster) {
    egress.push({
      to: [{ podSelector: { matchLabels: { 'cnpg.io/cluster': m.memory.cluster } } }],
      ports: [tcp(POSTGRES_PORT)],
    });
  } else if (m.memory) {
    if (m.memory.engine !== 'external') {
      egress.push({
        to: [{ podSelector: { matchLabels: postgresSelector(m.memory.store) } }],
        ports: [tcp(POSTGRES_PORT)],
      });
    }
    if (m.memory.engine !== 'postgres') {
      egress.push({ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [tcp(POSTGRES_PORT)] });
    }
  }
  // The operator link (ADR 0021): busy/idle notices to the operator's namespace on its notice port.
  if (m.ctx.operatorNoticeUrl) {
    const url = new URL(m.ctx.operatorNoticeUrl);
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    egress.push({ to: [namespacePeer(m.operatorNamespace)], ports: [tcp(port)] });
  }
  // The spec's extra rules (e.g. an HTTP(S) proxy port), after the operator's own.
  egress.push(...(m.spec.networkPolicy?.extraEgress ?? []).map(passthroughAs<V1NetworkPolicyEgressRule>));
  child(chart, 'networkpolicy', 'NetworkPolicy', {
    metadata: { name: m.names.networkPolicy, labels: m.labels('network-policy') },
    spec: { podSelector: { matchLabels: m.selector }, policyTypes: ['Ingress', 'Egress'], ingress, egress },
  });
}
