// "Would applying this change anything?" Server-side apply of an unchanged object is still an API
// call; comparing the desired object with the cached live one first keeps steady state at zero writes.
import type { KubernetesObject } from '@kubernetes/client-node';

// The API server omits zero values of optional fields (`hostNetwork: false`, `minReadySeconds: 0`).
function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === '' || value === false || value === 0) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.keys(value).length === 0;
  return false;
}

/** True when every field set in `desired` has the same value in `live` (extra live fields are fine). */
export function isSubset(desired: unknown, live: unknown): boolean {
  if (desired === live) return true;
  if (live === undefined || live === null) return isEmpty(desired);
  if (Array.isArray(desired)) {
    if (!Array.isArray(live) || live.length !== desired.length) return false;
    return desired.every((item, i) => isSubset(item, live[i]));
  }
  if (typeof desired === 'object' && desired !== null) {
    if (typeof live !== 'object') return false;
    const liveRecord = live as Record<string, unknown>;
    return Object.entries(desired).every(([key, value]) => isSubset(value, liveRecord[key]));
  }
  // Numbers the API server may hand back as strings (quantities, int-or-string ports) and vice versa.
  return String(desired) === String(live);
}

/** Secrets come back with `data`; compare and apply them in that form. */
export function normalizeForApply<T extends KubernetesObject>(object: T): T {
  const secret = object as T & { stringData?: Record<string, string>; data?: Record<string, string> };
  if (object.kind !== 'Secret' || !secret.stringData) return object;
  const data = { ...secret.data };
  for (const [key, value] of Object.entries(secret.stringData))
    data[key] = Buffer.from(value).toString('base64');
  const { stringData: _drop, ...rest } = secret;
  return { ...rest, data } as T;
}

export function needsApply(desired: KubernetesObject, live: KubernetesObject | undefined): boolean {
  if (!live) return true;
  const { status: _status, ...desiredWithoutStatus } = desired as KubernetesObject & { status?: unknown };
  return !isSubset(desiredWithoutStatus, live);
}
