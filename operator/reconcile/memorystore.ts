// MemoryStore: observe → parse → render → apply → prune → status, plus the deletion policy finalizer.
import type { KubernetesObject, V1Secret, V1StatefulSet } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { parseMemoryStore } from '../../cdk8s/api/v1alpha1/index.ts';
import { memoryStoreConnection, renderMemoryStore } from '../../cdk8s/charts/index.ts';
import { memoryStoreNames } from '../../cdk8s/charts/labels.ts';
import { connectionBudget } from '../../cdk8s/charts/memorystore/budget.ts';
import type { PostgresTls } from '../../cdk8s/charts/memorystore/model.ts';
import { collectionPath, objectPath, resourceFor } from '../kube/resources.ts';
import type { KubeRest } from '../kube/rest.ts';
import type { ReconcileOutcome } from '../runtime/work-queue.ts';
import { applyChildren, pruneChildren } from './children.ts';
import { condition } from './conditions.ts';
import { fleetOf } from './connection-budget.ts';
import type { ReconcileContext } from './context.ts';
import { probeDatabase } from './probe-database.ts';
import { type WithStatus, writeStatus } from './status.ts';

export const STORE_FINALIZER = 'callfleet.io/deletion-policy';

export async function reconcileMemoryStore(
  ctx: ReconcileContext,
  key: string,
  log: Logger,
): Promise<ReconcileOutcome> {
  const store = ctx.memoryStores.get(key);
  if (!store) return;
  const generation = store.metadata?.generation;
  const finalizers = store.metadata?.finalizers ?? [];

  if (store.metadata?.deletionTimestamp) {
    if (!finalizers.includes(STORE_FINALIZER)) return;
    const policy = (store as { spec?: { deletionPolicy?: string } }).spec?.deletionPolicy ?? 'Retain';
    await finalize(ctx, store, policy, log);
    await ctx.rest.jsonPatch(objectPath(store), [
      { op: 'test', path: '/metadata/finalizers', value: finalizers },
      { op: 'replace', path: '/metadata/finalizers', value: finalizers.filter((f) => f !== STORE_FINALIZER) },
    ]);
    return;
  }
  if (!finalizers.includes(STORE_FINALIZER)) {
    await ctx.rest.mergePatch(objectPath(store), {
      metadata: { finalizers: [...finalizers, STORE_FINALIZER] },
    });
  }

  const parsed = parseMemoryStore(store);
  const fleet = fleetOf(ctx.voiceAgents, store.metadata?.namespace ?? '', store.metadata?.name ?? '');
  const rendered = parsed.ok
    ? renderMemoryStore(parsed.value, {
        ...existingSecrets(ctx, store),
        fleet,
        product: ctx.gatewayDefaults,
        operatorNamespace: ctx.operatorNamespace,
      })
    : undefined;
  if (!parsed.ok || !rendered?.ok) {
    const message = !parsed.ok
      ? parsed.issues.map((i) => `${i.path}: ${i.message}`).join('; ')
      : rendered && !rendered.ok
        ? `${rendered.error.path}: ${rendered.error.message}`
        : 'render failed';
    ctx.metrics.reconciles.inc({ kind: 'MemoryStore', result: 'invalid' });
    await writeStatus(
      ctx.rest,
      ctx.events,
      store,
      { observedGeneration: generation },
      [
        condition('Ready', false, 'InvalidSpec', message, generation),
        condition('Progressing', false, 'InvalidSpec', message, generation),
        condition('Degraded', true, 'InvalidSpec', message, generation),
      ],
      ctx.memoryStores,
    );
    return;
  }

  const applied = await applyChildren(ctx.rest, ctx.caches, rendered.objects);
  // Data is never deleted by pruning (e.g. the PVC of the pre-object-storage backups): deletionPolicy decides.
  const pruned = await pruneChildren(
    ctx.rest,
    ctx.caches,
    store.metadata?.uid ?? '',
    rendered.objects,
    (o) => o.kind === 'PersistentVolumeClaim',
  );
  if (applied.writes || pruned) log.info({ applied: applied.written, pruned }, 'children updated');

  const spec = parsed.value.spec;
  const connection = memoryStoreConnection(parsed.value, fleet);
  const budget = connectionBudget(spec.engine, spec.connections, fleet);
  let ready = false;
  let message = '';
  let endpoint: string | undefined;
  let requeue: ReconcileOutcome;
  let available = engineAvailability(spec.engine);
  if (spec.engine === 'postgres') {
    const statefulSet = [...applied.live.values()].find((o): o is V1StatefulSet => o.kind === 'StatefulSet');
    const client = rendered.objects.find(
      (o) => o.kind === 'Service' && (o as { spec?: { clusterIP?: string } }).spec?.clusterIP !== 'None',
    );
    endpoint = client ? `${client.metadata?.name}.${store.metadata?.namespace}.svc:5432` : undefined;
    const readyReplicas = statefulSet?.status?.readyReplicas ?? 0;
    ready =
      readyReplicas >= 1 &&
      (statefulSet?.status?.observedGeneration ?? 0) >= (statefulSet?.metadata?.generation ?? 0);
    message = ready
      ? 'PostgreSQL is ready (engine postgres: one pod, for development and small fleets)'
      : `waiting for PostgreSQL (${readyReplicas}/1 ready)`;
  } else if (spec.engine === 'cloudnative-pg') {
    const cluster = [...applied.live.values()].find((o) => o.kind === 'Cluster') as CnpgCluster | undefined;
    const name = connection.cluster ?? '';
    endpoint = `${name}-rw.${store.metadata?.namespace}.svc:5432`;
    if (applied.missingKinds.some((k) => k.startsWith('Cluster '))) {
      message =
        'CloudNativePG is not installed (no postgresql.cnpg.io/v1 Cluster CRD): install its operator, or use engine external';
    } else {
      const s = cluster?.status;
      const instances = spec.cloudnativePg?.instances ?? 0;
      const readyInstances = s?.readyInstances ?? 0;
      ready = s?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
      message = `CloudNativePG Cluster ${name}: ${s?.phase ?? 'creating'} (${readyInstances}/${instances} instances ready)`;
      available =
        instances >= 2 && readyInstances >= 2
          ? { status: true, reason: 'Replicated', message }
          : { status: false, reason: instances >= 2 ? 'ReplicasNotReady' : 'SingleInstance', message };
    }
  } else {
    const ref = spec.external?.connectionSecretRef;
    const secret = ref
      ? await ctx.rest.getOrNull<V1Secret>(
          `${collectionPath(resourceFor('v1', 'Secret'), store.metadata?.namespace)}/${ref.name}`,
        )
      : null;
    const encoded = ref ? secret?.data?.[ref.key] : undefined;
    if (!encoded) {
      message = `connection Secret ${ref?.name ?? '?'} (key ${ref?.key ?? '?'}) not found`;
    } else {
      const url = Buffer.from(encoded, 'base64').toString('utf8');
      const ca = await readCa(ctx, store.metadata?.namespace, connection.ca);
      const probe = ca.error
        ? { ok: false, error: ca.error, endpoint: undefined }
        : await probeDatabase(url, 3000, ca.pem);
      ready = probe.ok;
      endpoint = probe.endpoint;
      message = probe.ok ? 'external database answers' : `external database does not answer: ${probe.error}`;
    }
    // The external database is not watched: look again later.
    requeue = { requeueAfterMs: ready ? 5 * 60_000 : 15_000 };
  }

  const reason = ready ? 'Available' : 'Waiting';
  const degraded = applied.missingKinds.length
    ? { status: true, reason: 'MissingCRD', message: applied.missingKinds.join(', ') }
    : !budget.fits
      ? { status: true, reason: 'ConnectionBudgetExceeded', message: budget.message }
      : { status: false, reason: 'AsExpected', message: '' };
  await writeStatus(
    ctx.rest,
    ctx.events,
    store,
    {
      observedGeneration: generation,
      endpoint,
      connectionSecret: { name: connection.connectionSecretName, key: connection.connectionSecretKey },
      ...(connection.ca ? { caBundle: connection.ca } : {}),
      connections: {
        maxConnections: budget.maxConnections,
        poolPerGateway: budget.poolPerGateway,
        gatewaysAtPeak: budget.gatewaysAtPeak,
        needed: budget.needed,
        voiceAgents: budget.voiceAgents,
      },
    },
    [
      condition('Ready', ready, reason, message, generation),
      condition('Progressing', !ready, ready ? 'Available' : 'Waiting', message, generation),
      condition('Degraded', degraded.status, degraded.reason, degraded.message, generation),
      condition(
        'ConnectionBudget',
        budget.fits,
        budget.fits ? 'Fits' : 'BudgetExceeded',
        budget.message,
        generation,
      ),
      condition('HighlyAvailable', available.status, available.reason, available.message, generation),
    ],
    ctx.memoryStores,
  );
  return requeue;
}

type CnpgCluster = KubernetesObject & {
  status?: { phase?: string; readyInstances?: number; conditions?: { type: string; status: string }[] };
};

/** What each engine is, said in the status: only cloudnative-pg can be highly available here. */
function engineAvailability(engine: string): { status: boolean; reason: string; message: string } {
  if (engine === 'postgres') {
    return {
      status: false,
      reason: 'SingleInstance',
      message:
        'engine postgres runs one PostgreSQL pod: no replica, no failover, no point-in-time recovery. It is for development and small fleets; in production use engine external (RDS, Cloud SQL) or cloudnative-pg',
    };
  }
  if (engine === 'cloudnative-pg') {
    return { status: false, reason: 'Waiting', message: 'waiting for the CloudNativePG Cluster' };
  }
  return {
    status: true,
    reason: 'ProviderManaged',
    message: 'engine external: availability is the database provider’s (e.g. RDS Multi-AZ)',
  };
}

/** The PEM CA of an external store (spec.external.caBundle), for the probe. */
async function readCa(
  ctx: ReconcileContext,
  namespace: string | undefined,
  ca: { kind: 'Secret' | 'ConfigMap'; name: string; key: string } | undefined,
): Promise<{ pem?: string; error?: string }> {
  if (!ca) return {};
  const object = await ctx.rest.getOrNull<{ data?: Record<string, string> }>(
    `${collectionPath(resourceFor('v1', ca.kind), namespace)}/${ca.name}`,
  );
  const value = object?.data?.[ca.key];
  if (value === undefined) {
    return { error: `${ca.kind} ${ca.name} (key ${ca.key}) of spec.external.caBundle not found` };
  }
  return { pem: ca.kind === 'Secret' ? Buffer.from(value, 'base64').toString('utf8') : value };
}

/** Generated secrets are created once: render them again with the values they already hold. */
function existingSecrets(
  ctx: ReconcileContext,
  store: WithStatus,
): { password?: string; encryptionKey?: string; tls?: PostgresTls } {
  const names = memoryStoreNames(store.metadata?.name ?? '');
  const read = (name: string, key: string) => {
    const secret = ctx.caches.get('v1/Secret')?.get(`${store.metadata?.namespace}/${name}`) as
      | V1Secret
      | undefined;
    const value = secret?.data?.[key];
    return value ? Buffer.from(value, 'base64').toString('utf8') : undefined;
  };
  const tls = {
    'ca.crt': read(names.tls, 'ca.crt'),
    'tls.crt': read(names.tls, 'tls.crt'),
    'tls.key': read(names.tls, 'tls.key'),
  };
  return {
    password: read(names.credentials, 'password'),
    encryptionKey: read(names.encryption, 'key'),
    ...(tls['ca.crt'] && tls['tls.crt'] && tls['tls.key'] ? { tls: tls as PostgresTls } : {}),
  };
}

/** Retain: keep PVCs and Secrets by dropping their owner references. Delete: remove them. */
async function finalize(
  ctx: ReconcileContext,
  store: WithStatus,
  policy: string,
  log: Logger,
): Promise<void> {
  const namespace = store.metadata?.namespace;
  const name = store.metadata?.name ?? '';
  const uid = store.metadata?.uid;
  const ownedBy = (object: KubernetesObject) =>
    object.metadata?.ownerReferences?.some((r) => r.uid === uid) ?? false;
  // PVCs from the StatefulSet's volumeClaimTemplates are named <template>-<statefulset>-<ordinal> and have no owner.
  const claimName = new RegExp(`^[a-z0-9-]+-${escapeRegExp(memoryStoreNames(name).statefulSet)}-\\d+$`);
  const owned = (await listIn<V1Secret>(ctx.rest, 'Secret', namespace)).filter(ownedBy);
  const claims = (await listIn(ctx.rest, 'PersistentVolumeClaim', namespace)).filter(
    (pvc) => ownedBy(pvc) || claimName.test(pvc.metadata?.name ?? ''),
  );
  // cloudnative-pg: the Cluster owns its volumes, so Retain keeps the Cluster itself (orphaned, still running).
  const clusters = (ctx.caches.get('postgresql.cnpg.io/v1/Cluster')?.list(ownedBy) ?? []).map((c) => ({
    ...c,
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'Cluster',
  }));
  if (policy === 'Delete') {
    for (const object of [...owned, ...claims]) await ctx.rest.delete(objectPath(object));
    log.info({ secrets: owned.length, claims: claims.length }, 'deletionPolicy Delete: removed data');
    return;
  }
  for (const object of [...owned, ...claims, ...clusters]) {
    const refs = object.metadata?.ownerReferences ?? [];
    if (!refs.length) continue;
    await ctx.rest.mergePatch(objectPath(object), {
      metadata: {
        ownerReferences: refs.filter((r) => r.uid !== uid).length ? refs.filter((r) => r.uid !== uid) : null,
      },
    });
  }
  log.info({ secrets: owned.length, claims: claims.length }, 'deletionPolicy Retain: kept data');
}

async function listIn<T extends KubernetesObject = KubernetesObject>(
  rest: KubeRest,
  kind: 'Secret' | 'PersistentVolumeClaim',
  namespace?: string,
): Promise<T[]> {
  const list = await rest.get<{ items: T[] }>(collectionPath(resourceFor('v1', kind), namespace));
  return list.items.map((item) => ({ ...item, apiVersion: 'v1', kind }));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
