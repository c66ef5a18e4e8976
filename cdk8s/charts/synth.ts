// One cdk8s Chart per CR, rendered with chart.toJson() (no App.synth, no files): the Chart id is
// `<kind>-<namespace>-<name>`, unique and stable per CR (cdk8s-plus derives names from the path).
import type { KubernetesObject } from '@kubernetes/client-node';
import { ApiObject, App, Chart, JsonPatch } from 'cdk8s';
import { RenderError } from './errors.ts';
import { type Owner, ownerReference } from './labels.ts';

export type RenderResult =
  | { ok: true; objects: KubernetesObject[] }
  | { ok: false; error: { path: string; message: string } };

const ADDRESS_LABEL = 'cdk8s.io/metadata.addr';
const outputPatches = new WeakMap<Chart, Map<string, JsonPatch[]>>();

/**
 * JSON patches applied to an object's final JSON. Typed L1 objects (KubeDeployment) re-map their JSON
 * through the k8s 1.28 types after ApiObject patches run, dropping newer fields (preStop `sleep`) and
 * plain-string quantities; patches registered here run after that, on the wire format.
 */
export function patchOutput(chart: Chart, kind: string, name: string, ...patches: JsonPatch[]): void {
  let byObject = outputPatches.get(chart);
  if (!byObject) {
    byObject = new Map();
    outputPatches.set(chart, byObject);
  }
  const key = `${kind}/${name}`;
  byObject.set(key, [...(byObject.get(key) ?? []), ...patches]);
}

export function chartId(owner: Owner): string {
  return `${owner.kind.toLowerCase()}-${owner.namespace}-${owner.name}`;
}

export function synth(owner: Owner, build: (chart: Chart) => void): RenderResult {
  if (!owner.name) return { ok: false, error: { path: 'metadata.name', message: 'Required' } };
  try {
    const app = new App();
    const chart = new Chart(app, chartId(owner), {
      namespace: owner.namespace,
      disableResourceNameHashes: true,
    });
    build(chart);
    const ref = ownerReference(owner);
    if (ref) {
      for (const c of chart.node.findAll()) if (ApiObject.isApiObject(c)) c.metadata.addOwnerReference(ref);
    }
    const patches = outputPatches.get(chart);
    const objects = (chart.toJson() as KubernetesObject[]).map((o) => {
      const labels = o.metadata?.labels;
      if (labels) delete labels[ADDRESS_LABEL];
      const ops = patches?.get(`${o.kind}/${o.metadata?.name}`);
      return ops ? (JsonPatch.apply(o, ...ops) as KubernetesObject) : o;
    });
    return { ok: true, objects };
  } catch (error) {
    if (error instanceof RenderError)
      return { ok: false, error: { path: error.path, message: error.message } };
    return {
      ok: false,
      error: { path: 'spec', message: error instanceof Error ? error.message : String(error) },
    };
  }
}
