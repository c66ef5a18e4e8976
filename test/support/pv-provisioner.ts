// A tiny static volume provisioner for the test cluster (which has no storage driver): every Pending
// PersistentVolumeClaim gets a hostPath PersistentVolume pre-bound to it, so StatefulSets schedule.
// Runs as its own process: `node test/support/pv-provisioner.ts KUBECONFIG`.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';

const kubeconfig = process.argv[2];
if (!kubeconfig) {
  console.error('usage: node test/support/pv-provisioner.ts KUBECONFIG');
  process.exit(2);
}
const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
const core = kc.makeApiClient(CoreV1Api);
const done = new Set<string>();

async function provisionPending(): Promise<void> {
  const claims = await core.listPersistentVolumeClaimForAllNamespaces();
  for (const claim of claims.items) {
    const uid = claim.metadata?.uid ?? '';
    if (claim.status?.phase !== 'Pending' || claim.spec?.volumeName || done.has(uid)) continue;
    done.add(uid);
    await core
      .createPersistentVolume({
        body: {
          metadata: { name: `pv-${uid}`, labels: { 'callfleet.io/test-provisioner': 'true' } },
          spec: {
            capacity: { storage: claim.spec?.resources?.requests?.storage ?? '1Gi' },
            accessModes: claim.spec?.accessModes ?? ['ReadWriteOnce'],
            persistentVolumeReclaimPolicy: 'Delete',
            storageClassName: claim.spec?.storageClassName ?? '',
            hostPath: { path: `/tmp/callfleet-pv/${uid}` },
            claimRef: { namespace: claim.metadata?.namespace, name: claim.metadata?.name, uid },
          },
        },
      })
      .catch((error: { code?: number }) => {
        // A volume that already exists is done; any other failure is tried again at the next poll
        // (forgetting it left the claim Pending and its pod unschedulable for good).
        if (error.code !== 409) done.delete(uid);
        console.error(`could not provision for ${claim.metadata?.name}: ${error}`);
      });
  }
}

for (;;) {
  await provisionPending().catch((error) => console.error(String(error)));
  await new Promise((resolve) => setTimeout(resolve, 500));
}
