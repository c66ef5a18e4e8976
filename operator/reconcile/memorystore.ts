// MemoryStore: observe → parse → render → apply → prune → status, plus the deletion policy finalizer.
import type { KubernetesObject, V1Secret, V1StatefulSet } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { parseMemoryStore } from '../../cdk8s/api/v1alpha1/index.ts';
import { memoryStoreConnection, renderMemoryStore } from '../../cdk8s/charts/index.ts';
import { memoryStoreNames } from '../../cdk8s/charts/labels.ts';
import { collectionPath, objectPath, resourceFor } from '../kube/resources.ts';
import type { KubeRest } from '../kube/rest.ts';
import type { ReconcileOutcome } from '../runtime/work-queue.ts';
import { applyChildren, pruneChildren } from './children.ts';
import { condition } from './conditions.ts';
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
  const rendered = parsed.ok
    ? renderMemoryStore(parsed.value, { ...existingSecrets(ctx, store), product: ctx.gatewayDefaults })
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
  const connection = memoryStoreConnection(parsed.value);
  let ready = false;
  let message = '';
  let endpoint: string | undefined;
  let requeue: ReconcileOutcome;
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
    message = ready ? 'PostgreSQL is ready' : `waiting for PostgreSQL (${readyReplicas}/1 ready)`;
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
      const probe = await probeDatabase(url);
      ready = probe.ok;
      endpoint = probe.endpoint;
      message = probe.ok ? 'external database answers' : `external database does not answer: ${probe.error}`;
    }
    // The external database is not watched: look again later.
    requeue = { requeueAfterMs: ready ? 5 * 60_000 : 15_000 };
  }

  const reason = ready ? 'Available' : 'Waiting';
  await writeStatus(
    ctx.rest,
    ctx.events,
    store,
    {
      observedGeneration: generation,
      endpoint,
      connectionSecret: { name: connection.connectionSecretName, key: connection.connectionSecretKey },
    },
    [
      condition('Ready', ready, reason, message, generation),
      condition('Progressing', !ready, ready ? 'Available' : 'Waiting', message, generation),
      condition(
        'Degraded',
        applied.missingKinds.length > 0,
        applied.missingKinds.length ? 'MissingCRD' : 'AsExpected',
        applied.missingKinds.join(', '),
        generation,
      ),
    ],
    ctx.memoryStores,
  );
  return requeue;
}

/** Generated secrets are created once: render them again with the values they already hold. */
function existingSecrets(
  ctx: ReconcileContext,
  store: WithStatus,
): { password?: string; encryptionKey?: string } {
  const names = memoryStoreNames(store.metadata?.name ?? '');
  const read = (name: string, key: string) => {
    const secret = ctx.caches.get('v1/Secret')?.get(`${store.metadata?.namespace}/${name}`) as
      | V1Secret
      | undefined;
    const value = secret?.data?.[key];
    return value ? Buffer.from(value, 'base64').toString('utf8') : undefined;
  };
  return { password: read(names.credentials, 'password'), encryptionKey: read(names.encryption, 'key') };
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
  if (policy === 'Delete') {
    for (const object of [...owned, ...claims]) await ctx.rest.delete(objectPath(object));
    log.info({ secrets: owned.length, claims: claims.length }, 'deletionPolicy Delete: removed data');
    return;
  }
  for (const object of [...owned, ...claims]) {
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
