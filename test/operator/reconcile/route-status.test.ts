import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type HTTPRouteObject, routeAcceptedCondition } from '../../../operator/reconcile/route-status.ts';

const route = (parents?: ReturnType<typeof parent>[]): HTTPRouteObject => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name: 'agent', generation: 2 },
  ...(parents ? { status: { parents } } : {}),
});
const parent = (accepted: string, resolved: string, extra: Record<string, unknown> = {}) => ({
  parentRef: { name: 'external', namespace: 'gateways' },
  controllerName: 'example.com/gateway',
  conditions: [
    {
      type: 'Accepted',
      status: accepted,
      reason: accepted === 'True' ? 'Accepted' : 'NotAllowedByListeners',
      message: 'listener says no',
      observedGeneration: 2,
      ...extra,
    },
    {
      type: 'ResolvedRefs',
      status: resolved,
      reason: resolved === 'True' ? 'ResolvedRefs' : 'BackendNotFound',
      observedGeneration: 2,
    },
  ],
});

test('no report from a Gateway controller yet: Unknown', () => {
  const c = routeAcceptedCondition(route(), 3);
  assert.deepEqual(
    [c.type, c.status, c.reason, c.observedGeneration],
    ['RouteAccepted', 'Unknown', 'Pending', 3],
  );
});

test('accepted with resolved backends: True', () => {
  const c = routeAcceptedCondition(route([parent('True', 'True')]));
  assert.equal(c.status, 'True');
  assert.match(c.message, /external/);
});

test('not accepted: False with the Gateway’s reason and message', () => {
  const c = routeAcceptedCondition(route([parent('False', 'True')]));
  assert.deepEqual([c.status, c.reason], ['False', 'NotAllowedByListeners']);
  assert.match(c.message, /gateways\/external: Accepted is False: listener says no/);
});

test('accepted but a backend unresolved: False (BackendNotFound)', () => {
  const c = routeAcceptedCondition(route([parent('True', 'False')]));
  assert.deepEqual([c.status, c.reason], ['False', 'BackendNotFound']);
});

test('a report about an older generation of the route: Unknown until the controller catches up', () => {
  const c = routeAcceptedCondition(route([parent('True', 'True', { observedGeneration: 1 })]));
  assert.equal(c.status, 'Unknown');
});
