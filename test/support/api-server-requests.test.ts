import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requestsByVerbAndResource } from './api-server-requests.ts';

test('API server requests are summed by verb and resource, subresources apart, watches left out', () => {
  const text = [
    '# TYPE apiserver_request_total counter',
    'apiserver_request_total{code="200",component="apiserver",group="",resource="pods",scope="resource",subresource="",verb="PATCH",version="v1"} 40',
    'apiserver_request_total{code="409",component="apiserver",group="",resource="pods",scope="resource",subresource="",verb="PATCH",version="v1"} 2',
    'apiserver_request_total{code="201",component="apiserver",group="",resource="pods",scope="resource",subresource="binding",verb="POST",version="v1"} 7',
    'apiserver_request_total{code="200",component="apiserver",group="",resource="pods",scope="cluster",subresource="",verb="WATCH",version="v1"} 3',
    'apiserver_request_total_other{resource="pods",verb="PATCH"} 99',
  ].join('\n');
  assert.deepEqual(requestsByVerbAndResource(text), { 'PATCH pods': 42, 'POST pods/binding': 7 });
});
