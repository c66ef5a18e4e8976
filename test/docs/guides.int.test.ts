// [integration] The guides cannot drift from the code: every ```yaml block of docs/guides/*.md is applied with a
// server-side dry run on a real kube-apiserver (callfleet CRDs with their CEL rules, plus the third-party CRDs the
// guides use: Karpenter, cert-manager, Gateway API, GKE stubs), callfleet kinds also pass the operator's own zod
// parse, and every ```yaml values block lints and renders the chart into objects the API server accepts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { parseMemoryStore, parseVoiceAgent } from '../../cdk8s/api/v1alpha1/index.ts';
import { toolPath } from '../cluster/tools.ts';
import { type Cluster, startCluster } from '../support/cluster.ts';
import { waitForCrdsEstablished } from '../support/kube-helpers.ts';

const root = new URL('../../', import.meta.url).pathname;
const guidesDir = join(root, 'docs/guides');
const KUBE_VERSION = /KUBERNETES_VERSION=(\S+)/.exec(
  readFileSync(join(root, 'test/cluster/versions.env'), 'utf8'),
)?.[1] as string;

interface Block {
  guide: string;
  line: number;
  kind: 'manifest' | 'values' | 'third-party';
  text: string;
}

/**
 * Fenced blocks: ```yaml (Kubernetes objects), ```yaml values (this chart's values) and ```yaml third-party
 * (another project's values, e.g. prometheus-adapter: parsed, not rendered).
 */
export function yamlBlocks(guide: string, markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```yaml(?:\s+(values|third-party))?\s*$/.exec(lines[i] ?? '');
    if (!open) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end] !== '```') end++;
    blocks.push({
      guide,
      line: start,
      kind: (open[1] as Block['kind'] | undefined) ?? 'manifest',
      text: lines.slice(start, end).join('\n'),
    });
    i = end;
  }
  return blocks;
}

const guides = readdirSync(guidesDir).filter((f) => f.endsWith('.md'));
const blocks = guides.flatMap((g) => yamlBlocks(g, readFileSync(join(guidesDir, g), 'utf8')));
const where = (b: Block) => `docs/guides/${b.guide}:${b.line}`;

describe('[integration] the guides’ snippets on a real API server', { timeout: 600_000 }, () => {
  let cluster: Cluster;
  const dir = mkdtempSync(join(tmpdir(), 'callfleet-guides-'));

  before(async () => {
    const crdDir = execFileSync('bash', [join(root, 'test/cluster/third-party-crds.sh')], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .pop() as string;
    cluster = await startCluster();
    for (const file of [join(root, 'crds'), crdDir]) {
      const r = await cluster.kubectl(['apply', '--server-side', '-f', file]);
      assert.equal(r.code, 0, r.stderr);
    }
    await waitForCrdsEstablished(cluster, 'all');
    const namespaces = new Set(['callfleet-system']);
    for (const b of blocks.filter((x) => x.kind === 'manifest'))
      for (const d of parseAllDocuments(b.text)) {
        const ns = (d.toJS() as { metadata?: { namespace?: string } } | null)?.metadata?.namespace;
        if (ns) namespaces.add(ns);
      }
    for (const ns of namespaces) await cluster.kubectl(['create', 'namespace', ns]);
  });
  after(async () => {
    await cluster?.stop();
  });

  it('both cloud guides exist and cover the path to a first call', () => {
    const cloud = ['eks.md', 'gke.md'];
    for (const guide of cloud) assert.ok(guides.includes(guide), `docs/guides/${guide} exists`);
    for (const guide of cloud) {
      const text = readFileSync(join(guidesDir, guide), 'utf8');
      for (const topic of [
        /metrics-server/,
        /StorageClass/,
        /KEDA/,
        /status\.webhookUrl/,
        /twilio phone-numbers:update/,
        /edge/,
        /elevenlabs-native/,
        /helm test/,
      ])
        assert.match(text, topic, `${guide} covers ${topic}`);
      assert.ok(
        blocks.filter((b) => b.guide === guide && b.kind === 'manifest').length >= 5,
        `${guide}: manifests`,
      );
      assert.ok(
        blocks.some((b) => b.guide === guide && b.kind === 'values'),
        `${guide}: values`,
      );
    }
    assert.match(readFileSync(join(guidesDir, 'eks.md'), 'utf8'), /karpenter\.sh\/do-not-disrupt/);
  });

  for (const block of blocks.filter((b) => b.kind === 'manifest')) {
    it(`${where(block)}: server-side dry run accepts it`, async () => {
      const docs = parseAllDocuments(block.text).map((d) => d.toJS() as Record<string, unknown>);
      assert.ok(docs.length > 0 && docs.every((d) => d?.apiVersion && d.kind), 'complete objects');
      const r = await cluster.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: block.text });
      assert.equal(r.code, 0, `${where(block)}: ${r.stderr}`);
      for (const d of docs) {
        const parsed =
          d.kind === 'VoiceAgent'
            ? parseVoiceAgent(d)
            : d.kind === 'MemoryStore'
              ? parseMemoryStore(d)
              : undefined;
        if (parsed)
          assert.ok(
            parsed.ok,
            `${where(block)}: the operator's parse: ${JSON.stringify(parsed.ok ? '' : parsed.issues)}`,
          );
      }
    });
  }

  for (const block of blocks.filter((b) => b.kind === 'third-party')) {
    it(`${where(block)}: another project's values parse as YAML`, () => {
      for (const d of parseAllDocuments(block.text)) assert.deepEqual(d.errors, [], where(block));
    });
  }

  for (const block of blocks.filter((b) => b.kind === 'values')) {
    it(`${where(block)}: chart values lint, render, and the rendered objects pass a server-side dry run`, async () => {
      const file = join(dir, `${block.guide}-${block.line}.yaml`);
      writeFileSync(file, block.text);
      const chart = join(root, 'charts/callfleet');
      execFileSync(toolPath('helm'), ['lint', '--strict', chart, '-f', file], { stdio: 'pipe' });
      const rendered = execFileSync(
        toolPath('helm'),
        [
          'template',
          'callfleet',
          chart,
          '-n',
          'callfleet-system',
          '-f',
          file,
          '--kube-version',
          KUBE_VERSION,
          // The helm test pod needs its hook ServiceAccount, which `helm test` creates first.
          '--no-hooks',
        ],
        { encoding: 'utf8', maxBuffer: 32 * 1024 * 1024 },
      );
      const r = await cluster.kubectl(['apply', '--dry-run=server', '-n', 'callfleet-system', '-f', '-'], {
        input: rendered,
      });
      assert.equal(r.code, 0, `${where(block)}: ${r.stderr}`);
    });
  }
});
