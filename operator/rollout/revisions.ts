// Deployment revisions live on its ReplicaSets: the revision annotation names them and each holds the
// pod template of its revision, which is what a rollback restores.
import type { V1Deployment, V1PodTemplateSpec, V1ReplicaSet } from '@kubernetes/client-node';

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';

export function revisionOf(object: V1Deployment | V1ReplicaSet | undefined): string | undefined {
  return object?.metadata?.annotations?.[REVISION_ANNOTATION];
}

export const TEMPLATE_HASH_LABEL = 'pod-template-hash';

/** The ReplicaSet of this Deployment that holds the pod template with this hash. */
export function replicaSetWithTemplate(
  replicaSets: V1ReplicaSet[],
  deployment: V1Deployment,
  hash: string | undefined,
): V1ReplicaSet | undefined {
  return hash
    ? ownedReplicaSet(replicaSets, deployment, (rs) => rs.metadata?.labels?.[TEMPLATE_HASH_LABEL] === hash)
    : undefined;
}

/** The ReplicaSet of this Deployment that holds this revision. */
export function replicaSetOf(
  replicaSets: V1ReplicaSet[],
  deployment: V1Deployment,
  revision: string | undefined,
): V1ReplicaSet | undefined {
  return revision ? ownedReplicaSet(replicaSets, deployment, (rs) => revisionOf(rs) === revision) : undefined;
}

function ownedReplicaSet(
  replicaSets: V1ReplicaSet[],
  deployment: V1Deployment,
  match: (rs: V1ReplicaSet) => boolean,
): V1ReplicaSet | undefined {
  const uid = deployment.metadata?.uid;
  return replicaSets.find((rs) => match(rs) && rs.metadata?.ownerReferences?.some((r) => r.uid === uid));
}

/** A ReplicaSet's pod template as a Deployment template (without the hash label the Deployment adds). */
export function templateOf(replicaSet: V1ReplicaSet): V1PodTemplateSpec | undefined {
  const template = replicaSet.spec?.template;
  if (!template) return undefined;
  const { [TEMPLATE_HASH_LABEL]: _hash, ...labels } = template.metadata?.labels ?? {};
  return { ...template, metadata: { ...template.metadata, labels } };
}
