// Each property of a VoiceAgent's children, asserted on every example and ingress variant.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { drainGracePeriodSeconds, type VoiceAgent } from '../../../cdk8s/api/v1alpha1/index.ts';
import { renderVoiceAgent } from '../../../cdk8s/charts/index.ts';
import { chartId } from '../../../cdk8s/charts/synth.ts';
import { gatewayConfigSchema } from '../../../voice-gateway/config/schema.ts';
import { allExamples, find, type Obj, parsedVoiceAgents, render } from './fixtures.ts';

const SECRET_ENV = [
  'TWILIO_AUTH_TOKEN',
  'TWILIO_ACCOUNT_SID',
  'ELEVENLABS_API_KEY',
  'OPENAI_API_KEY',
  'AGENT_WEBSOCKET_TOKEN',
  'ELEVENLABS_WEBHOOK_SECRET',
  'ELEVENLABS_REQUEST_TOKEN',
  'CALLFLEET_MEMORY_URL',
  'CALLFLEET_ENCRYPTION_KEY',
  'CALLFLEET_STREAM_KEY',
];

const cases = allExamples().flatMap((example) => {
  const objects = render(example);
  return parsedVoiceAgents(example).map((va) => ({
    example: example.name,
    va,
    objects: objects.filter((o) => o.metadata?.labels?.['callfleet.io/voiceagent'] === va.metadata.name),
  }));
});

const podSpec = (d: Obj) => d.spec.template.spec;
const gateway = (d: Obj) => podSpec(d).containers[0];

for (const { example, va, objects } of cases) {
  const name = va.metadata.name as string;
  const spec = va.spec;
  const grace = drainGracePeriodSeconds(spec);
  const [deployment] = find(objects, 'Deployment');
  assert.ok(deployment, `${example}: Deployment`);

  describe(`VoiceAgent ${example}`, () => {
    it('renders deterministically, with no cdk8s bookkeeping labels', () => {
      const fixed = { randomBytes: (n: number) => new Uint8Array(n).fill(7) };
      const again = renderVoiceAgent(va, fixed);
      assert.ok(again.ok);
      assert.deepEqual(renderVoiceAgent(va, fixed), again);
      assert.doesNotMatch(JSON.stringify(objects), /cdk8s\.io/);
    });

    it('the gateway learns its namespace, VoiceAgent and pod name for its log lines (downward API)', () => {
      const env = gateway(deployment).env as { name: string; value?: string; valueFrom?: Obj }[];
      const byName = (n: string) => env.find((e) => e.name === n);
      assert.equal(byName('CALLFLEET_VOICEAGENT')?.value, name);
      assert.deepEqual(byName('POD_NAME')?.valueFrom, { fieldRef: { fieldPath: 'metadata.name' } });
      assert.deepEqual(byName('POD_NAMESPACE')?.valueFrom, { fieldRef: { fieldPath: 'metadata.namespace' } });
    });

    it('every child: the architecture labels, a controller ownerReference, no instance label', () => {
      for (const o of objects) {
        const labels = o.metadata?.labels ?? {};
        assert.equal(labels['app.kubernetes.io/name'], 'voice-gateway', `${o.kind}`);
        assert.ok(labels['app.kubernetes.io/component'], `${o.kind} component`);
        assert.equal(labels['app.kubernetes.io/part-of'], 'callfleet');
        assert.equal(labels['app.kubernetes.io/managed-by'], 'callfleet-operator');
        assert.equal(labels['callfleet.io/voiceagent'], name);
        assert.equal(labels['app.kubernetes.io/instance'], undefined);
        assert.deepEqual(o.metadata?.ownerReferences, [
          {
            apiVersion: 'callfleet.io/v1alpha1',
            kind: 'VoiceAgent',
            name,
            uid: va.metadata.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ]);
        assert.equal(o.metadata?.namespace, va.metadata.namespace ?? 'default');
      }
      assert.equal(deployment.spec.template.metadata.labels['app.kubernetes.io/instance'], undefined);
    });

    it('ServiceAccount without token automount', () => {
      const [sa] = find(objects, 'ServiceAccount');
      assert.equal((sa as { automountServiceAccountToken?: boolean }).automountServiceAccountToken, false);
      assert.equal(podSpec(deployment).automountServiceAccountToken, false);
      assert.equal(podSpec(deployment).serviceAccountName, sa?.metadata?.name);
    });

    it('ConfigMap holds a valid GatewayConfig; its checksum is on the pod template', () => {
      const [cm] = find(objects, 'ConfigMap');
      const json = cm?.data['gateway.json'] as string;
      const cfg = gatewayConfigSchema.parse(JSON.parse(json));
      assert.equal(cfg.drain.gracePeriodSeconds, grace);
      assert.equal(cfg.calls.maxDurationSeconds, spec.calls.maxDurationSeconds);
      assert.equal(cfg.agent.provider, spec.agent.provider);
      assert.equal(cfg.telephony, spec.telephony.mode);
      assert.equal(cfg.memory?.enabled ?? false, spec.memory !== undefined);
      const checksum = createHash('sha256').update(json).digest('hex');
      assert.equal(deployment.spec.template.metadata.annotations['callfleet.io/config-checksum'], checksum);
      const volume = podSpec(deployment).volumes.find((v: { configMap?: { name: string } }) => v.configMap);
      assert.equal(volume.configMap.name, cm?.metadata?.name);
      const mount = gateway(deployment).volumeMounts.find((v: { name: string }) => v.name === volume.name);
      assert.equal(mount.mountPath, '/etc/callfleet');
    });

    it('a config change changes the checksum (rolls the pods)', () => {
      const changed: VoiceAgent = {
        ...va,
        spec: { ...spec, calls: { ...spec.calls, silenceTimeoutSeconds: 77 } },
      };
      const r = renderVoiceAgent(changed, {});
      assert.ok(r.ok);
      const d = find(r.objects, 'Deployment')[0] as Obj;
      assert.notEqual(
        d.spec.template.metadata.annotations['callfleet.io/config-checksum'],
        deployment.spec.template.metadata.annotations['callfleet.io/config-checksum'],
      );
    });

    it('Deployment: no spec.replicas, RollingUpdate maxUnavailable 0, grace period, preStop', () => {
      assert.equal('replicas' in deployment.spec, false);
      assert.equal(deployment.spec.strategy.type, 'RollingUpdate');
      assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0);
      assert.equal(podSpec(deployment).terminationGracePeriodSeconds, grace);
      assert.ok(grace >= spec.calls.maxDurationSeconds);
      if (spec.drain.gracePeriodSeconds === undefined)
        assert.equal(grace, spec.calls.maxDurationSeconds + 60);
      const preStop = gateway(deployment).lifecycle?.preStop;
      if (spec.drain.preStopSeconds > 0)
        assert.deepEqual(preStop, { sleep: { seconds: spec.drain.preStopSeconds } });
      else assert.equal(preStop, undefined);
    });

    it('Deployment: startup, liveness (/health) and readiness (/health/ready) probes on 8080; internal port 9090', () => {
      const c = gateway(deployment);
      assert.equal(c.startupProbe.httpGet.path, '/health');
      assert.equal(c.livenessProbe.httpGet.path, '/health');
      assert.equal(c.readinessProbe.httpGet.path, '/health/ready');
      for (const p of [c.startupProbe, c.livenessProbe, c.readinessProbe]) assert.equal(p.httpGet.port, 8080);
      assert.deepEqual(c.ports, [
        { containerPort: 8080, name: 'http' },
        { containerPort: 9090, name: 'internal' },
      ]);
    });

    it('Deployment: non-root, read-only root FS, no capabilities, seccomp RuntimeDefault, no escalation', () => {
      const sc = gateway(deployment).securityContext;
      assert.equal(sc.runAsNonRoot, true);
      assert.ok(sc.runAsUser > 0);
      assert.equal(sc.readOnlyRootFilesystem, true);
      assert.deepEqual(sc.capabilities, { drop: ['ALL'] });
      assert.equal(sc.seccompProfile.type, 'RuntimeDefault');
      assert.equal(sc.allowPrivilegeEscalation, false);
      assert.equal(sc.privileged, false);
      assert.equal(podSpec(deployment).securityContext.runAsNonRoot, true);
      assert.equal(podSpec(deployment).securityContext.seccompProfile.type, 'RuntimeDefault');
    });

    it('Deployment: explicit resources sized for the gateway', () => {
      const r = gateway(deployment).resources;
      assert.deepEqual(
        r,
        spec.resources ?? { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '512Mi' } },
      );
      const requests = (r as { requests: { cpu?: string; memory?: string } }).requests;
      assert.ok(requests.cpu && requests.memory);
    });

    it('Deployment: topology spread across zones and nodes (unless the spec overrides it)', () => {
      if (spec.podTemplate?.topologySpreadConstraints) return;
      const keys = podSpec(deployment).topologySpreadConstraints.map(
        (t: { topologyKey: string }) => t.topologyKey,
      );
      assert.deepEqual(keys.sort(), ['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
      for (const t of podSpec(deployment).topologySpreadConstraints) {
        assert.deepEqual(t.labelSelector.matchLabels, deployment.spec.selector.matchLabels);
      }
    });

    it('Deployment: secrets only through secretKeyRef, under the names the gateway reads', () => {
      const env = gateway(deployment).env as {
        name: string;
        value?: string;
        valueFrom?: { secretKeyRef?: unknown };
      }[];
      const byName = new Map(env.map((e) => [e.name, e]));
      assert.equal(byName.get('CALLFLEET_GATEWAY_CONFIG')?.value, '/etc/callfleet/gateway.json');
      assert.equal(byName.get('PORT')?.value, '8080');
      assert.equal(byName.get('CALLFLEET_INTERNAL_PORT')?.value, '9090');
      // The spec's own extra env (podTemplate.env) comes last, after the operator's.
      const extra = new Set((spec.podTemplate?.env ?? []).map((e) => e.name));
      for (const e of env) {
        if (extra.has(e.name)) continue;
        if (SECRET_ENV.includes(e.name)) {
          assert.equal(e.value, undefined, e.name);
          assert.ok(e.valueFrom?.secretKeyRef, e.name);
        } else {
          assert.ok(
            [
              'PORT',
              'CALLFLEET_INTERNAL_PORT',
              'CALLFLEET_GATEWAY_CONFIG',
              'CALLFLEET_VOICEAGENT',
              'POD_NAME',
              'POD_NAMESPACE',
              'NODE_OPTIONS',
            ].includes(e.name),
            `unexpected env ${e.name}`,
          );
        }
      }
      assert.deepEqual(gateway(deployment).envFrom, spec.podTemplate?.envFrom);
      const twilio = spec.telephony.twilio;
      if (twilio)
        assert.deepEqual(byName.get('TWILIO_AUTH_TOKEN')?.valueFrom?.secretKeyRef, twilio.authTokenSecretRef);
      if (spec.agent.openaiRealtime) {
        assert.deepEqual(
          byName.get('OPENAI_API_KEY')?.valueFrom?.secretKeyRef,
          spec.agent.openaiRealtime.apiKeySecretRef,
        );
      }
      // Both elevenlabs-native secrets reach the pod (issue 15: neither was rendered before).
      const el = spec.agent.elevenlabs;
      assert.deepEqual(
        byName.get('ELEVENLABS_WEBHOOK_SECRET')?.valueFrom?.secretKeyRef,
        el?.webhookSecretRef,
      );
      assert.deepEqual(
        byName.get('ELEVENLABS_REQUEST_TOKEN')?.valueFrom?.secretKeyRef,
        el?.requestTokenSecretRef,
      );
      if (spec.telephony.mode === 'elevenlabs-native') {
        assert.ok(byName.get('ELEVENLABS_REQUEST_TOKEN')?.valueFrom?.secretKeyRef);
        assert.ok(byName.get('ELEVENLABS_WEBHOOK_SECRET')?.valueFrom?.secretKeyRef);
      }
      assert.equal(byName.has('CALLFLEET_MEMORY_URL'), spec.memory !== undefined);
      assert.equal(byName.has('CALLFLEET_ENCRYPTION_KEY'), spec.memory !== undefined);
      // Stream credentials: a key per VoiceAgent, from the create-only Secret the operator generates.
      const streams = spec.telephony.mode === 'twilio-stream';
      assert.equal(byName.has('CALLFLEET_STREAM_KEY'), streams);
      if (streams) {
        assert.deepEqual(byName.get('CALLFLEET_STREAM_KEY')?.valueFrom?.secretKeyRef, {
          name: `${name}-stream-key`,
          key: 'key',
        });
        const [secret] = find(objects, 'Secret').filter((o) => o.metadata?.name === `${name}-stream-key`);
        assert.ok(secret, 'the stream-key Secret is rendered');
        assert.equal(secret.metadata?.annotations?.['callfleet.io/create-only'], 'true');
        assert.ok(Buffer.from(secret.stringData.key, 'base64').length >= 32, 'a 256-bit key');
        const kept = renderVoiceAgent(va, { streamKey: 'existing-key-0123456789abcdefghijklmnop' });
        assert.ok(kept.ok);
        const again = kept.objects.find((o) => o.metadata?.name === `${name}-stream-key`) as Obj;
        assert.equal(again.stringData.key, 'existing-key-0123456789abcdefghijklmnop', 'never rotated');
      }
    });

    it('pod template: serving label "true", memorystore label when a store is referenced', () => {
      const labels = deployment.spec.template.metadata.labels;
      assert.equal(labels['callfleet.io/serving'], 'true');
      assert.equal(labels['callfleet.io/memorystore'], spec.memory?.storeRef.name);
      for (const [k, v] of Object.entries(deployment.spec.selector.matchLabels)) assert.equal(labels[k], v);
      assert.equal(deployment.spec.selector.matchLabels['callfleet.io/serving'], undefined);
    });

    it('two Services (webhooks, streams) select serving gateway pods on a named port', () => {
      for (const suffix of ['webhooks', 'streams']) {
        const [svc] = find(objects, 'Service', `${name}-${suffix}`);
        assert.ok(svc, suffix);
        assert.deepEqual(svc.spec.selector, {
          ...deployment.spec.selector.matchLabels,
          'callfleet.io/serving': 'true',
        });
        assert.deepEqual(svc.spec.ports, [{ name: 'http', port: 8080, targetPort: 8080, protocol: 'TCP' }]);
      }
    });

    it('autoscaling targets the VoiceAgent scale subresource (HPA or KEDA)', () => {
      const a = spec.autoscaling;
      const [hpa] = find(objects, 'HorizontalPodAutoscaler');
      const [so] = find(objects, 'ScaledObject');
      const target = { apiVersion: 'callfleet.io/v1alpha1', kind: 'VoiceAgent', name };
      if (!a.enabled) {
        assert.equal(hpa, undefined);
        assert.equal(so, undefined);
        return;
      }
      const behavior = {
        scaleUp: {
          stabilizationWindowSeconds: 60,
          selectPolicy: 'Max',
          policies: [{ type: 'Pods', value: 2, periodSeconds: 60 }],
        },
        scaleDown: {
          stabilizationWindowSeconds: 300,
          selectPolicy: 'Max',
          policies: [{ type: 'Pods', value: 1, periodSeconds: 120 }],
        },
      };
      if (a.engine === 'keda') {
        assert.equal(hpa, undefined);
        assert.ok(so);
        assert.deepEqual(so.spec.scaleTargetRef, target);
        assert.equal(so.spec.minReplicaCount, a.minReplicas);
        assert.equal(so.spec.maxReplicaCount, a.maxReplicas);
        assert.deepEqual(so.spec.advanced.horizontalPodAutoscalerConfig.behavior, behavior);
        const prom = so.spec.triggers.find((t: { type: string }) => t.type === 'prometheus');
        assert.match(prom.metadata.query, /callfleet_active_calls/);
        const p = a.prometheus;
        assert.equal(
          prom.metadata.serverAddress,
          p?.serverAddress ??
            `http://prometheus-operated.${spec.monitoring.prometheusNamespace ?? 'monitoring'}.svc:9090`,
        );
        assert.equal(prom.metadata.awsRegion, p?.awsRegion);
        assert.equal(prom.metadata.authModes, p?.authModes);
        assert.equal(prom.metadata.unsafeSsl, p?.unsafeSsl ? 'true' : undefined);
        assert.deepEqual(
          prom.authenticationRef,
          p?.authenticationRef
            ? { name: p.authenticationRef.name, kind: p.authenticationRef.kind }
            : undefined,
        );
        if (a.targetActiveCallsPerPod)
          assert.equal(prom.metadata.threshold, String(a.targetActiveCallsPerPod));
        return;
      }
      assert.equal(so, undefined);
      assert.ok(hpa);
      assert.equal(hpa.apiVersion, 'autoscaling/v2');
      assert.deepEqual(hpa.spec.scaleTargetRef, target);
      assert.equal(hpa.spec.minReplicas, a.minReplicas);
      assert.equal(hpa.spec.maxReplicas, a.maxReplicas);
      assert.deepEqual(hpa.spec.behavior, behavior);
      const cpu = hpa.spec.metrics.find((x: { type: string }) => x.type === 'Resource');
      assert.equal(cpu.resource.target.averageUtilization, a.targetCPUUtilization);
      const pods = hpa.spec.metrics.find((x: { type: string }) => x.type === 'Pods');
      if (a.targetActiveCallsPerPod === undefined) assert.equal(pods, undefined);
      else {
        assert.equal(pods.pods.metric.name, 'callfleet_active_calls');
        assert.equal(pods.pods.target.averageValue, String(a.targetActiveCallsPerPod));
      }
    });

    it('PDBs: idle fleet maxUnavailable 1, busy pods maxUnavailable 0, disjoint', () => {
      const [fleet] = find(objects, 'PodDisruptionBudget', name);
      const [busy] = find(objects, 'PodDisruptionBudget', `${name}-busy`);
      assert.equal(fleet?.spec.maxUnavailable, 1);
      assert.deepEqual(fleet?.spec.selector.matchExpressions, [
        { key: 'callfleet.io/busy', operator: 'NotIn', values: ['true'] },
      ]);
      assert.equal(busy?.spec.maxUnavailable, 0);
      assert.deepEqual(busy?.spec.selector.matchLabels, {
        ...deployment.spec.selector.matchLabels,
        'callfleet.io/busy': 'true',
      });
    });

    it('one stable set of ingress objects, with stickiness said truthfully', () => {
      const ingress = spec.ingress;
      const ingresses = find(objects, 'Ingress');
      const routes = find(objects, 'HTTPRoute');
      for (const o of [...ingresses, ...routes]) {
        assert.ok(o.metadata?.annotations?.['callfleet.io/stickiness'], `${o.kind} ${o.metadata?.name}`);
        assert.doesNotMatch(JSON.stringify(o.spec), /\/metrics|\/health|\/status|\/memory/);
      }
      if (!ingress) {
        assert.equal(ingresses.length + routes.length, 0);
        return;
      }
      if (ingress.className === 'nginx') {
        assert.deepEqual(ingresses.map((i) => i.metadata?.name).sort(), [
          `${name}-streams`,
          `${name}-webhooks`,
        ]);
        const [streams] = find(objects, 'Ingress', `${name}-streams`);
        const [hooks] = find(objects, 'Ingress', `${name}-webhooks`);
        const a = streams?.metadata?.annotations ?? {};
        assert.equal(a['nginx.ingress.kubernetes.io/use-regex'], 'true');
        assert.equal(a['nginx.ingress.kubernetes.io/upstream-hash-by'], '$request_uri');
        assert.equal(a['nginx.ingress.kubernetes.io/proxy-read-timeout'], '3600');
        assert.equal(a['nginx.ingress.kubernetes.io/proxy-send-timeout'], '3600');
        assert.equal(a['nginx.ingress.kubernetes.io/limit-rps'], undefined);
        assert.match(streams?.spec.rules[0].http.paths[0].path, /^\/twilio\/stream\/\(/);
        assert.equal(streams?.spec.rules[0].http.paths[0].backend.service.name, `${name}-streams`);
        assert.ok(hooks?.metadata?.annotations?.['nginx.ingress.kubernetes.io/limit-rps']);
        for (const p of hooks?.spec.rules[0].http.paths ?? [])
          assert.equal(p.backend.service.name, `${name}-webhooks`);
        if (ingress.tls) assert.equal(streams?.spec.tls[0].secretName, ingress.tls.secretName);
      }
      if (ingress.className === 'alb') {
        assert.equal(ingresses.length, 1);
        const a = ingresses[0]?.metadata?.annotations ?? {};
        assert.equal(a['alb.ingress.kubernetes.io/target-type'], 'ip');
        assert.equal(
          a['alb.ingress.kubernetes.io/load-balancer-attributes'],
          'idle_timeout.timeout_seconds=3600',
        );
        assert.equal(
          a['alb.ingress.kubernetes.io/target-group-attributes'],
          `deregistration_delay.timeout_seconds=${Math.min(grace, 3600)}`,
        );
        assert.equal(a['alb.ingress.kubernetes.io/healthcheck-path'], '/health/ready');
        assert.equal(
          a['callfleet.io/stickiness'],
          'none: ALB cannot hash on a request value (the stream carries its call SID in the path)',
        );
        if (grace > 3600) assert.match(a['callfleet.io/deregistration-delay'] ?? '', /capped/);
      }
      if (ingress.className === 'gce') {
        assert.equal(ingresses.length, 1);
        assert.match(
          ingresses[0]?.metadata?.annotations?.['callfleet.io/stickiness'] ?? '',
          /^none: GCLB cannot hash/,
        );
        const configs = find(objects, 'BackendConfig');
        assert.equal(configs.length, 2);
        for (const bc of configs) {
          assert.ok(bc.spec.connectionDraining.drainingTimeoutSec > 0);
          assert.equal(bc.spec.healthCheck.requestPath, '/health/ready');
        }
        const [streams] = find(objects, 'BackendConfig', `${name}-streams`);
        assert.ok(streams?.spec.timeoutSec >= spec.calls.maxDurationSeconds);
        const [svc] = find(objects, 'Service', `${name}-streams`);
        assert.equal(
          svc?.metadata?.annotations?.['cloud.google.com/backend-config'],
          `{"default":"${name}-streams"}`,
        );
      }
      if (ingress.gatewayRef) {
        assert.equal(ingresses.length, 0);
        assert.equal(routes.length, 1);
        const rules = routes[0]?.spec.rules;
        const stream = rules.find((r: { name: string }) => r.name === 'streams');
        assert.deepEqual(stream.timeouts, { request: '0s', backendRequest: '0s' });
        assert.equal(stream.backendRefs[0].name, `${name}-streams`);
        assert.equal(routes[0]?.spec.parentRefs[0].name, ingress.gatewayRef.name);
        assert.equal(find(objects, 'GCPBackendPolicy').length, ingress.gatewayPolicy === 'gcp' ? 1 : 0);
        assert.equal(find(objects, 'BackendTrafficPolicy').length, ingress.gatewayPolicy === 'envoy' ? 1 : 0);
      }
    });

    it('NetworkPolicy: 8080 from anyone, 9090 only from the operator and Prometheus; egress to DNS, the MemoryStore and 443', () => {
      const [np] = find(objects, 'NetworkPolicy');
      assert.deepEqual(np?.spec.podSelector.matchLabels, deployment.spec.selector.matchLabels);
      assert.deepEqual(np?.spec.policyTypes, ['Ingress', 'Egress']);
      type Rule = {
        from?: { namespaceSelector?: { matchLabels: Record<string, string> } }[];
        ports: unknown;
      };
      const rules = (np?.spec.ingress ?? []) as Rule[];
      assert.deepEqual(
        rules.map((r) => r.ports),
        [[{ protocol: 'TCP', port: 8080 }], [{ protocol: 'TCP', port: 9090 }]],
      );
      assert.equal(rules[0]?.from, undefined);
      const internalFrom = (rules[1]?.from ?? []).map(
        (p) => p.namespaceSelector?.matchLabels['kubernetes.io/metadata.name'],
      );
      const mon = spec.monitoring.prometheusNamespace;
      assert.deepEqual(
        internalFrom,
        mon && mon !== 'callfleet-system' ? ['callfleet-system', mon] : ['callfleet-system'],
      );
      const ports = (np?.spec.egress ?? []).flatMap((r: { ports: { port: number }[] }) =>
        r.ports.map((p) => p.port),
      );
      assert.ok(ports.includes(53) && ports.includes(443));
      assert.equal(ports.includes(5432), spec.memory !== undefined);
    });

    it('ServiceMonitor and PrometheusRule only when asked', () => {
      assert.equal(find(objects, 'ServiceMonitor').length, spec.monitoring.serviceMonitor ? 1 : 0);
      assert.equal(find(objects, 'PrometheusRule').length, spec.monitoring.prometheusRule ? 1 : 0);
      const [sm] = find(objects, 'ServiceMonitor');
      if (sm) {
        const [metrics] = find(objects, 'Service', `${name}-metrics`);
        for (const [k, v] of Object.entries(sm.spec.selector.matchLabels))
          assert.equal(metrics?.metadata?.labels?.[k], v);
        assert.equal(sm.spec.endpoints[0].path, '/metrics');
        assert.equal(sm.spec.endpoints[0].port, 'internal');
        assert.deepEqual(
          metrics?.spec.ports.map((p: { name: string; port: number }) => [p.name, p.port]),
          [['internal', 9090]],
        );
      }
      // spec.monitoring.labels (e.g. release: kube-prometheus-stack) on both, never over the callfleet labels.
      for (const o of [...find(objects, 'ServiceMonitor'), ...find(objects, 'PrometheusRule')]) {
        for (const [k, v] of Object.entries(spec.monitoring.labels ?? {}))
          assert.equal(o.metadata?.labels?.[k], v, `${o.kind} label ${k}`);
        assert.equal(o.metadata?.labels?.['callfleet.io/voiceagent'], name);
      }
      const [rule] = find(objects, 'PrometheusRule');
      if (rule) {
        // spec.slo thresholds reach the burn-rate recording rules.
        const exprs = JSON.stringify(rule.spec.groups);
        assert.ok(exprs.includes(`le=~\\"${spec.slo.responseSeconds}(`), 'response threshold');
        assert.ok(exprs.includes(`le=~\\"${spec.slo.firstAudioSeconds}(`), 'first-audio threshold');
      }
    });

    it('the cdk8s Chart id is unique and stable per CR', () => {
      const owner = {
        apiVersion: 'callfleet.io/v1alpha1',
        kind: 'VoiceAgent' as const,
        name,
        namespace: va.metadata.namespace ?? 'default',
      };
      assert.equal(chartId(owner), `voiceagent-${owner.namespace}-${name}`);
      assert.notEqual(chartId(owner), chartId({ ...owner, kind: 'MemoryStore' }));
    });
  });
}

describe('VoiceAgent render errors', () => {
  it('come back as {ok:false, error:{path, message}}, never thrown', () => {
    const [va] = cases.map((c) => c.va);
    assert.ok(va);
    const bad: VoiceAgent = {
      ...va,
      spec: {
        ...va.spec,
        telephony: { ...va.spec.telephony, publicBaseUrl: undefined },
        ingress: { host: '*.example.com' },
      },
    };
    const r = renderVoiceAgent(bad, {});
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.error.path, 'spec.ingress.host');
    const port: VoiceAgent = {
      ...va,
      spec: {
        ...va.spec,
        telephony: { ...va.spec.telephony, publicBaseUrl: 'https://calls.example.com:99999' },
      },
    };
    const r2 = renderVoiceAgent(port, {});
    assert.equal(r2.ok, false);
    if (!r2.ok) assert.equal(r2.error.path, 'gatewayConfig.publicBaseUrl');
  });

  it('a missing name is reported at metadata.name', () => {
    const [va] = cases.map((c) => c.va);
    assert.ok(va);
    const r = renderVoiceAgent({ ...va, metadata: {} }, {});
    assert.deepEqual(r, { ok: false, error: { path: 'metadata.name', message: 'Required' } });
  });

  it('without a uid (callfleet render of a file) no ownerReferences are invented', () => {
    const [va] = cases.map((c) => c.va);
    assert.ok(va);
    const r = renderVoiceAgent({ ...va, metadata: { name: 'x' } }, {});
    assert.ok(r.ok);
    for (const o of r.objects) assert.equal(o.metadata?.ownerReferences, undefined);
  });
});

it('the idle PodDisruptionBudget is sized from the scale alone: all idle pods but one may go', () => {
  const va = allExamples()
    .flatMap(parsedVoiceAgents)
    .find((v) => v.spec.agent.provider === 'echo') as VoiceAgent;
  const idleBudget = (trackedReplicas?: number) => {
    const result = renderVoiceAgent(va, { trackedReplicas });
    assert.ok(result.ok);
    const pdbs = result.objects.filter((o) => o.kind === 'PodDisruptionBudget') as unknown as Obj[];
    return pdbs.find((p) => p.spec?.selector?.matchExpressions)?.spec as Record<string, unknown> | undefined;
  };
  assert.deepEqual(
    { ...idleBudget(), selector: undefined },
    { maxUnavailable: 1, selector: undefined },
    'without busy marks (callfleet render): one at a time',
  );
  assert.equal(idleBudget(10)?.maxUnavailable, 9, 'desired healthy = 10 - 9 = one idle pod');
  assert.equal(idleBudget(2)?.maxUnavailable, 1);
  assert.equal(idleBudget(1)?.maxUnavailable, 1, 'a lone pod never blocks a drain');
  assert.equal(idleBudget(0)?.maxUnavailable, 1);
  assert.equal(idleBudget(10)?.minAvailable, undefined);
});

it('a Twilio REST base URL in the VoiceAgent reaches the gateway config', () => {
  const va = allExamples()
    .flatMap(parsedVoiceAgents)
    .find((v) => v.spec.telephony.twilio) as VoiceAgent;
  const twilio = va.spec.telephony.twilio as NonNullable<VoiceAgent['spec']['telephony']['twilio']>;
  const withEdge = {
    ...va,
    spec: {
      ...va.spec,
      telephony: {
        ...va.spec.telephony,
        twilio: { ...twilio, apiBaseUrl: 'https://api.dublin.ie1.twilio.com' },
      },
    },
  };
  const configOf = (agent: VoiceAgent) => {
    const result = renderVoiceAgent(agent, {});
    assert.ok(result.ok);
    const cm = result.objects.find((o) => o.kind === 'ConfigMap') as unknown as {
      data: Record<string, string>;
    };
    return gatewayConfigSchema.parse(JSON.parse(Object.values(cm.data)[0] as string));
  };
  assert.equal(configOf(withEdge).twilio?.apiBaseUrl, 'https://api.dublin.ie1.twilio.com');
  assert.equal(configOf(va).twilio, undefined);
});
