// The table of `callfleet` sub-commands (bin/callfleet.ts runs them). A sub-command module exports
// `run(args) => exit code` and is loaded only when its command runs. Every module a command loads ships in
// the image (test/bin/commands.test.ts checks it against the Dockerfile); `call` loads the Twilio call
// simulator from test/simulator/, which the image copies for smoke tests in a cluster (ADR 0025).
export interface CommandModule {
  run(args: string[]): Promise<number>;
}

export interface Command {
  summary: string;
  load(): Promise<CommandModule>;
}

export const commands: Record<string, Command> = {
  operator: {
    summary: 'run the controller (watches VoiceAgent and MemoryStore)',
    load: () => import('../operator/cli/operator.ts'),
  },
  gateway: {
    summary: 'run a voice-gateway pod (Twilio webhooks + media streams)',
    load: () => import('../voice-gateway/cli/gateway.ts'),
  },
  render: {
    summary: 'print the objects a VoiceAgent or MemoryStore becomes (-f FILE [-o yaml|json])',
    load: () => import('../operator/cli/render.ts'),
  },
  crds: {
    summary: 'write the CustomResourceDefinitions generated from the API schemas',
    load: () => import('../operator/cli/crds.ts'),
  },
  check: {
    summary: 'check an installation: CRDs, the operator, a VoiceAgent dry run (what `helm test` runs)',
    load: () => import('../operator/cli/check.ts'),
  },
  call: {
    summary: 'place a simulated Twilio call against a gateway',
    load: () => import('../test/simulator/cli.ts'),
  },
  migrate: {
    summary: 'apply the caller-memory database migrations',
    load: async () => ({ run: (await import('../voice-gateway/cli/memory.ts')).runMigrate }),
  },
  status: {
    summary: "show one VoiceAgent's conditions, pods, rollouts and events (status voiceagent NAME -n NS)",
    load: () => import('../operator/cli/status.ts'),
  },
  memory: {
    summary: 'export, forget or audit what callfleet holds about a caller',
    load: async () => ({ run: (await import('../voice-gateway/cli/memory.ts')).runMemory }),
  },
};

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  const lines = Object.entries(commands).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`);
  return `usage: callfleet <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}
