import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resourceOf } from '../../../operator/kube/rest.ts';

describe('resourceOf', () => {
  it('names the resource and subresource an API path writes to', () => {
    const cases: [string, string][] = [
      ['/api/v1/namespaces/a/pods/gw-1', 'pods'],
      ['/api/v1/namespaces/a/events', 'events'],
      ['/apis/apps/v1/namespaces/a/deployments/d/scale', 'deployments/scale'],
      ['/apis/callfleet.io/v1alpha1/namespaces/team/voiceagents/agent/status', 'voiceagents/status'],
      ['/apis/callfleet.io/v1alpha1/namespaces/team/voiceagents', 'voiceagents'],
      ['/apis/rbac.authorization.k8s.io/v1/clusterroles/x', 'clusterroles'],
      ['/api/v1/namespaces/namespaces', 'namespaces'],
      ['/api/v1/namespaces/a', 'namespaces'],
      ['/apis/apps/v1/namespaces/a/deployments/d?fieldManager=x', 'deployments'],
      ['/', 'unknown'],
    ];
    for (const [path, resource] of cases) assert.equal(resourceOf(path), resource, path);
  });
});
