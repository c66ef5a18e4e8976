// `callfleet check`: what `helm test` runs in the cluster: the CRDs are Established, the operator Deployment
// is Available, and the API server accepts a VoiceAgent (server-side dry run, so the CRD schema and its CEL
// rules are live) and refuses an invalid one. Exit 0 when all hold, 1 with the failed check named.
import { loadKubeAccess } from '../kube/access.ts';
import { KubeError, KubeRest } from '../kube/rest.ts';
import { parseCommandLine } from './args.ts';

const usage = `usage: callfleet check --namespace NS --deployment NAME [--kubeconfig PATH] [--timeout SECONDS]
  Checks an installation: CRDs Established, the operator Deployment Available, a VoiceAgent dry run in NS.
`;
const CRDS = ['voiceagents.callfleet.io', 'memorystores.callfleet.io'];

interface Condition {
  type: string;
  status: string;
}

const probe = (name: string) => ({
  apiVersion: 'callfleet.io/v1alpha1',
  kind: 'VoiceAgent',
  metadata: { name },
  spec: {
    agent: { provider: 'echo' },
    telephony: {
      publicBaseUrl: 'https://calls.example.com',
      twilio: {
        authTokenSecretRef: { name: 'twilio', key: 'auth-token' },
        accountSidSecretRef: { name: 'twilio', key: 'account-sid' },
      },
    },
  },
});

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(
    args,
    {
      options: {
        namespace: { type: 'string' },
        deployment: { type: 'string' },
        kubeconfig: { type: 'string' },
        timeout: { type: 'string', default: '120' },
        help: { type: 'boolean' },
      },
    },
    { usage, prefix: 'callfleet check: ' },
  );
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const { namespace, deployment } = values;
  if (!namespace || !deployment) {
    process.stderr.write(`callfleet check: --namespace and --deployment are required\n${usage}`);
    return 2;
  }
  const rest = new KubeRest(await loadKubeAccess(values.kubeconfig), { timeoutMs: 10_000 });
  const deadline = Date.now() + Number(values.timeout) * 1000;
  const say = (line: string) => process.stdout.write(`${line}\n`);

  /** Retries `check` until it returns undefined (ok) or the deadline; returns the last failure. */
  const until = async (what: string, check: () => Promise<string | undefined>): Promise<boolean> => {
    let failure: string | undefined = 'not checked';
    while (Date.now() < deadline) {
      try {
        failure = await check();
      } catch (error) {
        failure = error instanceof Error ? error.message : String(error);
      }
      if (failure === undefined) {
        say(`ok   ${what}`);
        return true;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    say(`FAIL ${what}: ${failure}`);
    return false;
  };

  let ok = true;
  for (const crd of CRDS) {
    ok &&= await until(`CRD ${crd} Established`, async () => {
      const object = await rest.get<{ status?: { conditions?: Condition[] } }>(
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd}`,
      );
      const established = object.status?.conditions?.find((c) => c.type === 'Established');
      return established?.status === 'True'
        ? undefined
        : `Established is ${established?.status ?? 'missing'}`;
    });
  }
  ok &&= await until(`operator Deployment ${namespace}/${deployment} Available`, async () => {
    const object = await rest.get<{ status?: { conditions?: Condition[]; readyReplicas?: number } }>(
      `/apis/apps/v1/namespaces/${namespace}/deployments/${deployment}`,
    );
    const available = object.status?.conditions?.find((c) => c.type === 'Available');
    if (available?.status !== 'True') return `Available is ${available?.status ?? 'missing'}`;
    return (object.status?.readyReplicas ?? 0) > 0 ? undefined : 'no ready replica';
  });
  const collection = `/apis/callfleet.io/v1alpha1/namespaces/${namespace}/voiceagents?dryRun=All`;
  ok &&= await until('a VoiceAgent is accepted (server-side dry run)', async () => {
    await rest.create(collection, probe('callfleet-check'));
    return undefined;
  });
  ok &&= await until('an invalid VoiceAgent is refused by the CRD schema', async () => {
    const invalid = probe('callfleet-check-invalid');
    (invalid.spec as Record<string, unknown>).calls = { maxConcurrentPerPod: 0 };
    try {
      await rest.create(collection, invalid);
      return 'the API server accepted calls.maxConcurrentPerPod: 0';
    } catch (error) {
      if (error instanceof KubeError && error.status === 422) return undefined;
      throw error;
    }
  });
  say(ok ? 'callfleet check: all checks passed' : 'callfleet check: failed');
  return ok ? 0 : 1;
}
