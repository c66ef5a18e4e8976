// `callfleet status voiceagent NAME [-n NAMESPACE]`: one VoiceAgent's conditions, pods, rollouts, rollbacks
// and recent events, read from the API server with the caller's kubeconfig.
import { loadKubeAccess } from '../kube/access.ts';
import { KubeRest } from '../kube/rest.ts';
import { formatVoiceAgentStatus, gatherVoiceAgentStatus } from '../status/voiceagent-status.ts';
import { parseCommandLine } from './args.ts';

const usage = `usage: callfleet status voiceagent NAME [options]
  -n, --namespace NS   namespace of the VoiceAgent (default: the kubeconfig context's, else default)
  --kubeconfig PATH    kubeconfig (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)
  -o, --output FORMAT  text (default) or json
`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(
    args,
    {
      allowPositionals: true,
      options: {
        namespace: { type: 'string', short: 'n' },
        kubeconfig: { type: 'string' },
        output: { type: 'string', short: 'o', default: 'text' },
        help: { type: 'boolean', short: 'h' },
      },
    },
    { usage, prefix: 'callfleet status: ' },
  );
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [kind, name, ...extra] = positionals;
  if (!kind || !['voiceagent', 'voiceagents', 'va'].includes(kind) || !name || extra.length) {
    process.stderr.write(
      `callfleet status: ${kind && !['voiceagent', 'voiceagents', 'va'].includes(kind) ? `unknown kind ${kind}` : 'a VoiceAgent name is required'}\n${usage}`,
    );
    return 2;
  }
  if (values.output !== 'text' && values.output !== 'json') {
    process.stderr.write(`callfleet status: --output: text or json, not ${values.output}\n`);
    return 2;
  }
  const access = await loadKubeAccess(values.kubeconfig);
  const namespace = values.namespace ?? access.namespace ?? 'default';
  try {
    const report = await gatherVoiceAgentStatus(new KubeRest(access), namespace, name);
    process.stdout.write(
      values.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatVoiceAgentStatus(report),
    );
    return 0;
  } catch (error) {
    process.stderr.write(`callfleet status: ${(error as Error).message}\n`);
    return 1;
  }
}
