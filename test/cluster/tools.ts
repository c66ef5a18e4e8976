// Where the control-plane tools built by build-tools.sh live (~/.cache/callfleet/<tool>-<version>/bin).
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const versionsFile = new URL('./versions.env', import.meta.url);

export function toolVersions(): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const line of readFileSync(versionsFile, 'utf8').split('\n')) {
    const match = /^([A-Z_]+)=(\S+)/.exec(line);
    if (match?.[1] && match[2]) versions[match[1]] = match[2];
  }
  return versions;
}

const versionKey = {
  kubernetes: 'KUBERNETES_VERSION',
  etcd: 'ETCD_VERSION',
  kwok: 'KWOK_VERSION',
  helm: 'HELM_VERSION',
  promtool: 'PROMETHEUS_VERSION',
  prometheus: 'PROMETHEUS_VERSION',
  actionlint: 'ACTIONLINT_VERSION',
  versitygw: 'VERSITYGW_VERSION',
} as const;

export type Tool = keyof typeof versionKey;

export function toolBinDir(tool: Tool): string {
  const cache = process.env.CALLFLEET_CACHE ?? join(homedir(), '.cache', 'callfleet');
  return join(cache, `${tool}-${toolVersions()[versionKey[tool]]}`, 'bin');
}

/** Absolute path of a binary; throws with the fix when the tools are not built yet. */
export function toolPath(tool: Tool, binary: string = tool): string {
  const path = join(toolBinDir(tool), binary);
  if (!existsSync(path))
    throw new Error(`${path} is missing: run \`make tools\` (builds it once, then cached)`);
  return path;
}
