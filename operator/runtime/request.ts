// What the work queue holds: a request to reconcile one custom resource, as controller-runtime's
// reconcile.Request (plus the kind, since one queue serves every reconciled kind).
import type { KubernetesObject } from '@kubernetes/client-node';

export const RECONCILED_KINDS = ['VoiceAgent', 'MemoryStore', 'CallCampaign'] as const;
export type ReconciledKind = (typeof RECONCILED_KINDS)[number];

export interface Request {
  kind: ReconciledKind;
  namespace: string;
  name: string;
}

export function isReconciledKind(kind: string | undefined): kind is ReconciledKind {
  return (RECONCILED_KINDS as readonly (string | undefined)[]).includes(kind);
}

/** The request for a custom resource itself. */
export function requestOf(kind: ReconciledKind, object: KubernetesObject): Request {
  return { kind, namespace: object.metadata?.namespace ?? '', name: object.metadata?.name ?? '' };
}

/** The request for a resource known by its informer cache key (`namespace/name`, as the call tracker reports). */
export function requestForKey(kind: ReconciledKind, cacheKey: string): Request {
  const slash = cacheKey.indexOf('/');
  return { kind, namespace: cacheKey.slice(0, slash), name: cacheKey.slice(slash + 1) };
}

/** The informer cache key of the requested resource (what reconcilers look it up by). */
export function cacheKeyOf(request: Request): string {
  return `${request.namespace}/${request.name}`;
}

/** The queue's de-duplication key: one entry per resource, whichever mapping asked for it. */
export function requestKey(request: Request): string {
  return `${request.kind}:${request.namespace}/${request.name}`;
}
