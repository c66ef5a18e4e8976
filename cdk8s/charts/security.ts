// The restricted Pod Security Standard as the plain (non cdk8s-plus) pods write it: a fixed non-root
// uid/gid, RuntimeDefault seccomp; containers with a read-only root filesystem, no privilege escalation
// and no capabilities. (The gateway Deployment gets the same from cdk8s-plus.)
import type { V1PodSecurityContext, V1SecurityContext } from '@kubernetes/client-node';

const identity = (uid: number) => ({ runAsNonRoot: true, runAsUser: uid, runAsGroup: uid });
const seccompProfile = { type: 'RuntimeDefault' };

/** Pod level; `fsGroup` when the pod's volumes must be group-readable by the process (e.g. a key file). */
export function restrictedPod(uid: number, options: { fsGroup?: boolean } = {}): V1PodSecurityContext {
  return { ...identity(uid), ...(options.fsGroup ? { fsGroup: uid } : {}), seccompProfile };
}

export function restrictedContainer(uid: number): V1SecurityContext {
  return {
    ...identity(uid),
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    privileged: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile,
  };
}
