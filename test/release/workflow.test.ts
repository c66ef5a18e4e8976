// The release workflow: actionlint (built from the Go module proxy by `make tools`) passes on every workflow,
// finds a planted mistake (so it really runs), and the release does what a fork needs: both architectures, an
// SBOM, keyless signatures of image and chart, the chart pushed as an OCI artifact, to the owner's namespace.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { toolPath } from '../cluster/tools.ts';

const root = new URL('../../', import.meta.url).pathname;
const workflows = join(root, '.github/workflows');
const releaseText = readFileSync(join(workflows, 'release.yml'), 'utf8');
// biome-ignore lint/suspicious/noExplicitAny: a workflow document
const release = parse(releaseText) as any;
const actionlint = (...files: string[]) =>
  spawnSync(toolPath('actionlint'), ['-no-color', ...files], { cwd: root, encoding: 'utf8' });

const steps = (job: string): { uses?: string; run?: string; with?: Record<string, unknown> }[] =>
  release.jobs[job].steps;

describe('.github/workflows', () => {
  it('actionlint passes on every workflow', () => {
    const files = readdirSync(workflows)
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => join('.github/workflows', f));
    assert.ok(files.includes('.github/workflows/release.yml'));
    const result = actionlint(...files);
    assert.equal(result.status, 0, result.stdout + result.stderr);
  });

  it('actionlint catches a broken workflow (it really checks)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'callfleet-actionlint-'));
    const broken = join(dir, 'broken.yml');
    writeFileSync(
      broken,
      releaseText.replace('steps.build.outputs.digest }}', 'steps.nope.outputs.digest }}'),
    );
    const result = actionlint(broken);
    assert.notEqual(result.status, 0);
    assert.match(result.stdout, /nope/);
    assert.match(execFileSync(toolPath('actionlint'), ['-version'], { encoding: 'utf8' }), /^v1\./);
  });
});

describe('release.yml', () => {
  it('runs on version tags, with least privilege by default', () => {
    assert.deepEqual(release.on.push.tags, ['v*.*.*']);
    assert.deepEqual(release.permissions, { contents: 'read' });
    assert.equal(release.jobs.image.permissions['id-token'], 'write');
  });

  it('builds amd64 and arm64 with buildx, pushes with an SBOM and provenance', () => {
    const build = steps('image').find((s) => s.uses?.startsWith('docker/build-push-action@'));
    assert.equal(build?.with?.platforms, 'linux/amd64,linux/arm64');
    assert.equal(build?.with?.sbom, true);
    assert.equal(build?.with?.push, true);
    assert.ok(steps('image').some((s) => s.uses?.startsWith('docker/setup-qemu-action@')));
    assert.ok(steps('image').some((s) => s.uses?.startsWith('docker/setup-buildx-action@')));
    assert.ok(steps('image').some((s) => s.uses?.startsWith('anchore/sbom-action@')));
  });

  it('signs the image and the chart keyless (no key material anywhere) and pushes the chart as OCI', () => {
    assert.ok(steps('image').some((s) => /cosign sign --yes "\$IMAGE"/.test(s.run ?? '')));
    assert.ok(steps('image').some((s) => /cosign attest --yes --type spdxjson/.test(s.run ?? '')));
    const push = steps('chart').find((s) => s.run?.includes('helm push'));
    assert.match(push?.run ?? '', /oci:\/\/ghcr\.io\/\$\{owner\}\/charts/);
    assert.match(
      push?.run ?? '',
      /cosign sign --yes "ghcr\.io\/\$\{owner\}\/charts\/callfleet@\$\{digest\}"/,
    );
    assert.doesNotMatch(releaseText, /--key|COSIGN_PRIVATE_KEY|COSIGN_PASSWORD/);
  });

  it('a fork releases to its own namespace: names come from the repository owner, credentials from GITHUB_TOKEN', () => {
    assert.match(releaseText, /ghcr\.io\/\$\{GITHUB_REPOSITORY_OWNER,,\}\/callfleet/);
    assert.doesNotMatch(releaseText, /ghcr\.io\/callfleet\//);
    const secrets = [...releaseText.matchAll(/secrets\.(\w+)/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(secrets)], ['GITHUB_TOKEN']);
  });

  it('the chart it pushes pins the image it built by digest', () => {
    const pkg = steps('chart').find((s) => s.run?.includes('helm package'));
    assert.match(pkg?.run ?? '', /digest: \\"\$\{DIGEST\}\\"/);
    const values = readFileSync(join(root, 'charts/callfleet/values.yaml'), 'utf8');
    assert.equal(values.match(/^ {2}digest: .*/gm)?.length, 1, 'one image.digest line for sed to set');
    assert.equal(
      values.match(/^ {2}repository: .*/gm)?.length,
      1,
      'one image.repository line for sed to set',
    );
  });
});
