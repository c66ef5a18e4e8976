// Gateway API: whether the Gateway controller accepted the VoiceAgent's HTTPRoute, from the route's
// status.parents[].conditions (Accepted, ResolvedRefs), as the VoiceAgent condition RouteAccepted.
import type { KubernetesObject } from '@kubernetes/client-node';
import { type Condition, condition } from './conditions.ts';

interface RouteCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
}
interface RouteParentStatus {
  parentRef?: { name?: string; namespace?: string; sectionName?: string };
  controllerName?: string;
  conditions?: RouteCondition[];
}
export type HTTPRouteObject = KubernetesObject & { status?: { parents?: RouteParentStatus[] } };

export const ROUTE_ACCEPTED = 'RouteAccepted';

/** RouteAccepted: True when every parent Gateway accepted the route and resolved its backends. */
export function routeAcceptedCondition(route: HTTPRouteObject, generation?: number): Condition {
  const parents = route.status?.parents ?? [];
  const routeGeneration = route.metadata?.generation;
  if (!parents.length) {
    return condition(
      ROUTE_ACCEPTED,
      'Unknown',
      'Pending',
      'no Gateway controller has reported on the HTTPRoute yet',
      generation,
    );
  }
  for (const parent of parents) {
    const name = `${parent.parentRef?.namespace ? `${parent.parentRef.namespace}/` : ''}${parent.parentRef?.name ?? '?'}`;
    for (const type of ['Accepted', 'ResolvedRefs']) {
      const c = parent.conditions?.find((x) => x.type === type);
      if (!c)
        return condition(
          ROUTE_ACCEPTED,
          'Unknown',
          'Pending',
          `Gateway ${name} has not reported ${type}`,
          generation,
        );
      if (
        c.observedGeneration !== undefined &&
        routeGeneration !== undefined &&
        c.observedGeneration < routeGeneration
      ) {
        return condition(
          ROUTE_ACCEPTED,
          'Unknown',
          'Pending',
          `Gateway ${name} has not seen the current HTTPRoute yet`,
          generation,
        );
      }
      if (c.status !== 'True') {
        return condition(
          ROUTE_ACCEPTED,
          false,
          c.reason || (type === 'Accepted' ? 'NotAccepted' : 'RefNotResolved'),
          `Gateway ${name}: ${type} is ${c.status}${c.message ? `: ${c.message}` : ''}`,
          generation,
        );
      }
    }
  }
  const names = parents.map((p) => p.parentRef?.name ?? '?').join(', ');
  return condition(
    ROUTE_ACCEPTED,
    true,
    'Accepted',
    `accepted by Gateway ${names}, backends resolved`,
    generation,
  );
}
