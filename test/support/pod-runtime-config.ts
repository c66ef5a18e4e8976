// What the process kubelet does before starting a container: materialise the pod's volumes as files
// in the pod's directory, resolve the container's environment (value, valueFrom, envFrom, $(VAR)),
// and turn image + command + args into a local command line. Paths under a volume's mountPath in env
// values, command and args are rewritten to the directory that stands in for the mount.
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { V1Container, V1KeyToPath, V1Pod } from '@kubernetes/client-node';
import type { KubeRest } from '../../operator/kube/rest.ts';

/** An image's ENTRYPOINT (`command`) and CMD (`args`), as the local command that stands in for it. */
export interface ImageCommand {
  command: string[];
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
}

export type ImageCommands = (image: string, container: V1Container) => ImageCommand | undefined;

/** A container could not be configured yet (missing Secret key, unknown image): kubelet's waiting reasons. */
export class ContainerConfigError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

interface Sourced {
  data: Record<string, string | Buffer>;
}

async function readSource(
  rest: KubeRest,
  namespace: string,
  kind: 'ConfigMap' | 'Secret',
  name: string,
): Promise<Sourced | null> {
  const path = `/api/v1/namespaces/${namespace}/${kind === 'Secret' ? 'secrets' : 'configmaps'}/${name}`;
  const object = await rest.getOrNull<{ data?: Record<string, string>; binaryData?: Record<string, string> }>(
    path,
  );
  if (!object) return null;
  const data: Record<string, string | Buffer> = {};
  if (kind === 'Secret') {
    for (const [k, v] of Object.entries(object.data ?? {})) data[k] = Buffer.from(v, 'base64');
  } else {
    for (const [k, v] of Object.entries(object.data ?? {})) data[k] = v;
    for (const [k, v] of Object.entries(object.binaryData ?? {})) data[k] = Buffer.from(v, 'base64');
  }
  return { data };
}

function writeItems(dir: string, source: Sourced, items: V1KeyToPath[] | undefined, mode: number): void {
  mkdirSync(dir, { recursive: true });
  const entries = items?.length
    ? items.map((i) => ({ key: i.key, path: i.path, mode: i.mode ?? mode }))
    : Object.keys(source.data).map((key) => ({ key, path: key, mode }));
  for (const e of entries) {
    const value = source.data[e.key];
    if (value === undefined) continue;
    const file = join(dir, e.path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, value, { mode: e.mode });
  }
}

/** Writes every volume of the pod to `<podDir>/volumes/<name>`. */
export async function materialiseVolumes(rest: KubeRest, pod: V1Pod, podDir: string): Promise<void> {
  const namespace = pod.metadata?.namespace ?? 'default';
  for (const volume of pod.spec?.volumes ?? []) {
    const dir = join(podDir, 'volumes', volume.name);
    if (volume.configMap || volume.secret) {
      const kind = volume.configMap ? 'ConfigMap' : 'Secret';
      const name = volume.configMap?.name ?? volume.secret?.secretName ?? '';
      const optional = volume.configMap?.optional ?? volume.secret?.optional ?? false;
      const source = await readSource(rest, namespace, kind, name);
      if (!source && !optional) {
        throw new ContainerConfigError(
          'ContainerCreating',
          `${kind} "${name}" not found (volume ${volume.name})`,
        );
      }
      rmSync(dir, { recursive: true, force: true });
      const mode = volume.configMap?.defaultMode ?? volume.secret?.defaultMode ?? 0o644;
      writeItems(dir, source ?? { data: {} }, volume.configMap?.items ?? volume.secret?.items, mode);
    } else if (volume.persistentVolumeClaim) {
      // The test cluster's provisioner makes hostPath PVs; the data lives there across pod restarts.
      const claim = await rest.getOrNull<{ spec?: { volumeName?: string } }>(
        `/api/v1/namespaces/${namespace}/persistentvolumeclaims/${volume.persistentVolumeClaim.claimName}`,
      );
      const pv = claim?.spec?.volumeName
        ? await rest.getOrNull<{ spec?: { hostPath?: { path?: string } } }>(
            `/api/v1/persistentvolumes/${claim.spec.volumeName}`,
          )
        : null;
      const hostPath = pv?.spec?.hostPath?.path;
      if (!hostPath) {
        throw new ContainerConfigError(
          'ContainerCreating',
          `PVC ${volume.persistentVolumeClaim.claimName} is not bound`,
        );
      }
      mkdirSync(hostPath, { recursive: true });
      mkdirSync(dirname(dir), { recursive: true });
      rmSync(dir, { recursive: true, force: true });
      symlinkSync(hostPath, dir);
    } else if (volume.hostPath) {
      mkdirSync(dirname(dir), { recursive: true });
      rmSync(dir, { recursive: true, force: true });
      symlinkSync(volume.hostPath.path, dir);
    } else {
      // emptyDir and anything else: an empty directory owned by the pod.
      mkdirSync(dir, { recursive: true });
    }
  }
}

/** mountPath → local directory, longest mount path first (so nested mounts win). */
export function mountMap(container: V1Container, podDir: string): [string, string][] {
  const root = join(podDir, 'containers', container.name, 'root');
  const mounts: [string, string][] = [];
  for (const m of container.volumeMounts ?? []) {
    const local = join(root, m.mountPath);
    const target = join(podDir, 'volumes', m.name, m.subPath ?? '');
    mkdirSync(dirname(local), { recursive: true });
    rmSync(local, { recursive: true, force: true });
    symlinkSync(target, local);
    mounts.push([m.mountPath.replace(/\/+$/, ''), local]);
  }
  return mounts.sort((a, b) => b[0].length - a[0].length);
}

export function rewritePath(value: string, mounts: [string, string][]): string {
  for (const [mountPath, local] of mounts) {
    if (value === mountPath || value.startsWith(`${mountPath}/`))
      return local + value.slice(mountPath.length);
    // --flag=/mount/path
    const eq = value.indexOf('=');
    if (eq > 0) {
      const rest = value.slice(eq + 1);
      if (rest === mountPath || rest.startsWith(`${mountPath}/`)) {
        return `${value.slice(0, eq + 1)}${local}${rest.slice(mountPath.length)}`;
      }
    }
  }
  return value;
}

/** $(VAR) expansion as Kubernetes does it: $$ escapes, unknown references stay as written. */
export function expand(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === '$$') return '$';
    return name !== undefined && name in env ? (env[name] as string) : match;
  });
}

export interface PodFacts {
  podIP: string;
  hostIP: string;
}

function fieldValue(pod: V1Pod, path: string, facts: PodFacts): string {
  const labels = /^metadata\.labels\['(.+)'\]$/.exec(path);
  if (labels?.[1]) return pod.metadata?.labels?.[labels[1]] ?? '';
  const annotations = /^metadata\.annotations\['(.+)'\]$/.exec(path);
  if (annotations?.[1]) return pod.metadata?.annotations?.[annotations[1]] ?? '';
  switch (path) {
    case 'metadata.name':
      return pod.metadata?.name ?? '';
    case 'metadata.namespace':
      return pod.metadata?.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata?.uid ?? '';
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.podIP':
    case 'status.podIPs':
      return facts.podIP;
    case 'status.hostIP':
    case 'status.hostIPs':
      return facts.hostIP;
    default:
      return '';
  }
}

/** The container's environment as the kubelet computes it (without the Service link variables). */
export async function resolveEnv(
  rest: KubeRest,
  pod: V1Pod,
  container: V1Container,
  facts: PodFacts,
): Promise<Record<string, string>> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const cache = new Map<string, Sourced | null>();
  const source = async (kind: 'ConfigMap' | 'Secret', name: string) => {
    const key = `${kind}/${name}`;
    if (!cache.has(key)) cache.set(key, await readSource(rest, namespace, kind, name));
    return cache.get(key) ?? null;
  };
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const kind = from.configMapRef ? 'ConfigMap' : 'Secret';
    const ref = from.configMapRef ?? from.secretRef;
    if (!ref?.name) continue;
    const s = await source(kind, ref.name);
    if (!s) {
      if (ref.optional) continue;
      throw new ContainerConfigError(
        'CreateContainerConfigError',
        `${kind.toLowerCase()} "${ref.name}" not found`,
      );
    }
    for (const [k, v] of Object.entries(s.data)) env[`${from.prefix ?? ''}${k}`] = v.toString();
  }
  for (const e of container.env ?? []) {
    if (e.valueFrom?.secretKeyRef || e.valueFrom?.configMapKeyRef) {
      const kind = e.valueFrom.secretKeyRef ? 'Secret' : 'ConfigMap';
      const ref = e.valueFrom.secretKeyRef ?? e.valueFrom.configMapKeyRef;
      if (!ref) continue;
      const value = (await source(kind, ref.name ?? ''))?.data[ref.key];
      if (value === undefined) {
        if (ref.optional) continue;
        throw new ContainerConfigError(
          'CreateContainerConfigError',
          `couldn't find key ${ref.key} in ${kind} ${namespace}/${ref.name}`,
        );
      }
      env[e.name] = value.toString();
    } else if (e.valueFrom?.fieldRef) {
      env[e.name] = fieldValue(pod, e.valueFrom.fieldRef.fieldPath, facts);
    } else if (e.valueFrom?.resourceFieldRef) {
      env[e.name] = '0';
    } else {
      env[e.name] = expand(e.value ?? '', env);
    }
  }
  return env;
}

export interface ContainerLaunch {
  argv: string[];
  env: Record<string, string>;
  cwd?: string;
}

/** Docker's rule: command replaces ENTRYPOINT (and drops CMD), args replaces CMD. */
export function launchFor(
  imageCommands: ImageCommands,
  container: V1Container,
  env: Record<string, string>,
  mounts: [string, string][],
): ContainerLaunch {
  const image = container.image ?? '';
  const local = imageCommands(image, container);
  if (!local) {
    throw new ContainerConfigError('ErrImagePull', `no local command for image "${image}" (imageCommands)`);
  }
  // Only what the pod spec wrote is expanded and rewritten; the local entrypoint is a host path already.
  const fromSpec = (list: string[]) => list.map((a) => rewritePath(expand(a, env), mounts));
  const entrypoint = container.command?.length ? fromSpec(container.command) : local.command;
  const args = container.args
    ? fromSpec(container.args)
    : container.command?.length
      ? []
      : (local.args ?? []);
  const argv = [...entrypoint, ...args];
  const finalEnv: Record<string, string> = { ...(local.env ?? {}) };
  for (const [k, v] of Object.entries(env)) finalEnv[k] = rewritePath(v, mounts);
  return { argv, env: finalEnv, cwd: local.cwd };
}
