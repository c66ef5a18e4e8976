// One VoiceAgent's whole state for an on-call engineer (`callfleet status voiceagent NAME`), in the spirit of
// `cmctl status certificate`: its conditions, the fleet counts, every gateway pod with its busy / draining
// state and live calls (the marks the operator's call tracker keeps on the pods), the Deployment's rollouts
// (ReplicaSets) with the last good and rolled-back ones, the rollbacks, and the recent events.
import type { KubernetesObject, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { BUSY_LABEL, SERVING_LABEL, VOICEAGENT_LABEL } from '../../cdk8s/charts/labels.ts';
import { DELETION_COST } from '../../cdk8s/charts/pod-marks.ts';
import { collectionPath, resourceFor } from '../kube/resources.ts';
import type { KubeRest } from '../kube/rest.ts';
import type { Condition } from '../reconcile/conditions.ts';
import { REVISION_ANNOTATION, TEMPLATE_HASH_LABEL } from '../rollout/revisions.ts';

interface VoiceAgentObject extends KubernetesObject {
  spec?: { replicas?: number; agent?: { provider?: string } };
  status?: {
    observedGeneration?: number;
    conditions?: Condition[];
    replicas?: number;
    readyReplicas?: number;
    desiredReplicas?: number;
    busyReplicas?: number;
    drainingReplicas?: number;
    activeCalls?: number;
    webhookUrl?: string;
    streamUrl?: string;
    lastGoodGeneration?: number;
    lastGoodTemplate?: string;
    failedGeneration?: number;
  };
}

interface EventObject {
  type?: string;
  reason?: string;
  note?: string;
  message?: string;
  eventTime?: string;
  deprecatedLastTimestamp?: string;
  metadata?: { creationTimestamp?: string | Date };
  regarding?: { kind?: string; name?: string };
}

export interface PodRow {
  name: string;
  phase: string;
  ready: boolean;
  /** serving | busy | idle | draining | not serving (cordoned node) | unknown (not polled yet) */
  state: string;
  calls: number | undefined;
  template: string;
  node: string;
  age: string;
}

export interface RolloutRow {
  revision: number;
  template: string;
  pods: string;
  created: string;
  notes: string[];
}

export interface EventRow {
  age: string;
  type: string;
  reason: string;
  object: string;
  message: string;
}

export interface VoiceAgentStatusReport {
  name: string;
  namespace: string;
  generation: number | undefined;
  observedGeneration: number | undefined;
  provider: string;
  fleet: { desired: number; ready: number; busy: number; draining: number; calls: number };
  webhookUrl?: string;
  streamUrl?: string;
  conditions: Condition[];
  pods: PodRow[];
  rollouts: RolloutRow[];
  rollbacks: EventRow[];
  events: EventRow[];
}

function ago(time: string | Date | undefined, now: number): string {
  if (!time) return '-';
  const seconds = Math.max(0, Math.round((now - new Date(time).getTime()) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86400)}d`;
}

export function podState(pod: V1Pod): string {
  if (pod.metadata?.deletionTimestamp) return 'draining';
  const labels = pod.metadata?.labels ?? {};
  if (labels[SERVING_LABEL] === 'false') return 'not serving';
  if (labels[BUSY_LABEL] === 'true') return 'busy';
  // Idle pods carry no busy label; pods from templates older than ADR 0031 carry busy=false.
  if (labels[BUSY_LABEL] === 'false' || labels[SERVING_LABEL] === 'true') return 'idle';
  return 'unknown';
}

export async function gatherVoiceAgentStatus(
  rest: KubeRest,
  namespace: string,
  name: string,
  now = Date.now(),
): Promise<VoiceAgentStatusReport> {
  const va = await rest.getOrNull<VoiceAgentObject>(
    `${collectionPath(resourceFor('callfleet.io/v1alpha1', 'VoiceAgent'), namespace)}/${encodeURIComponent(name)}`,
  );
  if (!va) throw new Error(`VoiceAgent ${namespace}/${name} not found`);
  const selector = `${VOICEAGENT_LABEL}=${name},app.kubernetes.io/component=gateway`;
  const [pods, replicaSets, events] = await Promise.all([
    rest.get<{ items: V1Pod[] }>(collectionPath(resourceFor('v1', 'Pod'), namespace), {
      labelSelector: selector,
    }),
    rest.get<{ items: V1ReplicaSet[] }>(collectionPath(resourceFor('apps/v1', 'ReplicaSet'), namespace), {
      labelSelector: selector,
    }),
    rest.get<{ items: EventObject[] }>(collectionPath(resourceFor('events.k8s.io/v1', 'Event'), namespace)),
  ]);
  const s = va.status ?? {};

  const podRows: PodRow[] = pods.items
    .map((pod) => {
      const cost = pod.metadata?.annotations?.[DELETION_COST];
      return {
        name: pod.metadata?.name ?? '',
        phase: pod.metadata?.deletionTimestamp ? 'Terminating' : (pod.status?.phase ?? 'Unknown'),
        ready: pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
        state: podState(pod),
        calls: cost === undefined ? undefined : Number(cost),
        template: pod.metadata?.labels?.[TEMPLATE_HASH_LABEL] ?? '-',
        node: pod.spec?.nodeName ?? '-',
        age: ago(pod.metadata?.creationTimestamp, now),
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));

  const rollouts: RolloutRow[] = replicaSets.items
    .map((rs) => {
      const template = rs.metadata?.labels?.[TEMPLATE_HASH_LABEL] ?? '-';
      const revision = Number(rs.metadata?.annotations?.[REVISION_ANNOTATION] ?? 0);
      const notes: string[] = [];
      if (template === s.lastGoodTemplate) notes.push(`last good (generation ${s.lastGoodGeneration})`);
      const live = podRows.filter((p) => p.template === template && p.phase !== 'Terminating').length;
      return {
        revision,
        template,
        pods: `${rs.status?.readyReplicas ?? 0}/${rs.spec?.replicas ?? 0} ready, ${live} live`,
        created: ago(rs.metadata?.creationTimestamp, now),
        notes,
      };
    })
    .sort((a, b) => b.revision - a.revision)
    .slice(0, 5);
  const newest = rollouts[0];
  if (newest) newest.notes.unshift('current');
  // A rollback puts the last good template back (its ReplicaSet becomes the newest revision again): the
  // rolled-back one is the most recently created of the others.
  if (s.failedGeneration !== undefined && s.failedGeneration === va.metadata?.generation) {
    const created = (t: string) =>
      new Date(
        replicaSets.items.find((rs) => rs.metadata?.labels?.[TEMPLATE_HASH_LABEL] === t)?.metadata
          ?.creationTimestamp ?? 0,
      ).getTime();
    const failed = rollouts.slice(1).sort((a, b) => created(b.template) - created(a.template))[0];
    failed?.notes.push(`rolled back (generation ${s.failedGeneration})`);
  }

  const podNames = new Set(podRows.map((p) => p.name));
  const eventRows = events.items
    .filter(
      (e) =>
        (e.regarding?.kind === 'VoiceAgent' && e.regarding.name === name) ||
        (e.regarding?.kind === 'Pod' && podNames.has(e.regarding.name ?? '')),
    )
    .map((e) => {
      const time = e.eventTime ?? e.deprecatedLastTimestamp ?? e.metadata?.creationTimestamp;
      return {
        at: time ? new Date(time).getTime() : 0,
        age: ago(time, now),
        type: e.type ?? '',
        reason: e.reason ?? '',
        object: `${e.regarding?.kind}/${e.regarding?.name}`,
        message: (e.note ?? e.message ?? '').replace(/\s+/g, ' '),
      };
    })
    .sort((a, b) => b.at - a.at)
    .map(({ at: _at, ...row }) => row);

  return {
    name,
    namespace,
    generation: va.metadata?.generation,
    observedGeneration: s.observedGeneration,
    provider: va.spec?.agent?.provider ?? '-',
    fleet: {
      desired: s.desiredReplicas ?? va.spec?.replicas ?? 0,
      ready: s.readyReplicas ?? 0,
      busy: s.busyReplicas ?? 0,
      draining: s.drainingReplicas ?? 0,
      calls: s.activeCalls ?? 0,
    },
    webhookUrl: s.webhookUrl,
    streamUrl: s.streamUrl,
    conditions: s.conditions ?? [],
    pods: podRows,
    rollouts,
    rollbacks: eventRows.filter((e) => e.reason === 'RolloutFailed' && e.object.startsWith('VoiceAgent/')),
    events: eventRows.slice(0, 10),
  };
}

function table(headers: string[], rows: string[][], indent = '  '): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    indent +
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function formatVoiceAgentStatus(r: VoiceAgentStatusReport, now = Date.now()): string {
  const out: string[] = [];
  out.push(`Name:        ${r.name}`);
  out.push(`Namespace:   ${r.namespace}`);
  out.push(`Generation:  ${r.generation ?? '-'} (observed ${r.observedGeneration ?? '-'})`);
  out.push(`Provider:    ${r.provider}`);
  const f = r.fleet;
  out.push(
    `Fleet:       desired ${f.desired}, ready ${f.ready}, busy ${f.busy}, draining ${f.draining}, live calls ${f.calls}`,
  );
  if (r.webhookUrl) out.push(`Webhook URL: ${r.webhookUrl}`);
  if (r.streamUrl) out.push(`Stream URL:  ${r.streamUrl}`);
  out.push('Conditions:');
  if (!r.conditions.length) out.push('  (none yet: the operator has not reconciled it)');
  for (const c of r.conditions) {
    const since = c.lastTransitionTime ? ` (for ${ago(c.lastTransitionTime, now)})` : '';
    out.push(
      `  ${c.type}: ${c.status}, Reason: ${c.reason}${since}${c.message ? `, Message: ${c.message}` : ''}`,
    );
  }
  out.push('Pods:');
  out.push(
    r.pods.length
      ? table(
          ['NAME', 'PHASE', 'READY', 'STATE', 'CALLS', 'TEMPLATE', 'NODE', 'AGE'],
          r.pods.map((p) => [
            p.name,
            p.phase,
            String(p.ready),
            p.state,
            p.calls === undefined ? '-' : String(p.calls),
            p.template,
            p.node,
            p.age,
          ]),
        )
      : '  (no gateway pods)',
  );
  out.push('Rollouts:');
  out.push(
    r.rollouts.length
      ? table(
          ['REVISION', 'TEMPLATE', 'PODS', 'CREATED', 'NOTES'],
          r.rollouts.map((x) => [String(x.revision), x.template, x.pods, x.created, x.notes.join(', ')]),
        )
      : '  (no rollouts yet)',
  );
  out.push('Rollbacks:');
  out.push(
    r.rollbacks.length
      ? r.rollbacks.map((e) => `  ${e.age} ago: ${e.message}`).join('\n')
      : '  (none in the retained events)',
  );
  out.push('Events:');
  out.push(
    r.events.length
      ? table(
          ['AGE', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'],
          r.events.map((e) => [e.age, e.type, e.reason, e.object, e.message]),
        )
      : '  (none)',
  );
  return `${out.join('\n')}\n`;
}
