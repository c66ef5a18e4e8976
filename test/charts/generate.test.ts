// The chart's generated files (CRD templates from crds/, README from values.yaml) are in sync.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { chartDir, crdTemplate, staleFiles, valueRows } from '../../charts/generate.ts';

describe('charts/generate.ts', () => {
  it('the chart CRDs and README are up to date (run `make manifests`)', () => {
    assert.deepEqual(staleFiles(), []);
  });

  it('wraps a CRD in crds.install and adds the keep annotation under crds.keep', () => {
    const out = crdTemplate(
      'x.yaml',
      '# header\napiVersion: v1\nkind: CustomResourceDefinition\nmetadata:\n  name: x\nspec: {}\n',
    );
    assert.match(out, /^# Generated .*\n\{\{- if \.Values\.crds\.install \}\}\n/);
    assert.match(
      out,
      /metadata:\n {2}\{\{- if \.Values\.crds\.keep \}\}\n {2}annotations:\n {4}helm\.sh\/resource-policy: keep/,
    );
    assert.ok(out.trimEnd().endsWith('{{- end }}'));
  });

  it('escapes template delimiters that appear in a CRD', () => {
    assert.match(crdTemplate('x.yaml', 'metadata:\n  name: x\ndescription: "{{ x }}"\n'), /\{\{`\{\{`\}\}/);
  });

  it('documents every leaf value of values.yaml', () => {
    const rows = valueRows(readFileSync(join(chartDir, 'values.yaml'), 'utf8'));
    const documented = new Set(rows.map((r) => r.key));
    const leaves: string[] = [];
    const walk = (value: unknown, path: string[]) => {
      if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length) {
        if (documented.has(path.join('.'))) return;
        for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
      } else leaves.push(path.join('.'));
    };
    walk(parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')), []);
    assert.deepEqual(
      leaves.filter((l) => !documented.has(l)),
      [],
    );
  });

  it('every values.yaml key is allowed by values.schema.json', () => {
    const schema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8'));
    for (const row of valueRows(readFileSync(join(chartDir, 'values.yaml'), 'utf8'))) {
      let node = schema;
      for (const part of row.key.split('.')) {
        node = node.properties?.[part];
        assert.ok(node, `${row.key} is missing from values.schema.json`);
      }
    }
  });
});
