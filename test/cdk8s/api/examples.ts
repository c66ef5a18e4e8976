// The manifests in examples/ and examples/invalid/, loaded for the unit and integration tests.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import {
  type ParseResult,
  parseCallCampaign,
  parseMemoryStore,
  parseVoiceAgent,
} from '../../../cdk8s/api/v1alpha1/index.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function repoPath(...parts: string[]): string {
  return join(root, ...parts);
}

export interface Example {
  file: string;
  path: string;
  object: { kind?: string; [key: string]: unknown };
}

export interface InvalidExample extends Example {
  /** Line 1: the field path; further lines: text the error must contain. */
  expected: string[];
}

function load(dir: string): Example[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((file) => {
      const path = join(dir, file);
      return { file, path, object: parse(readFileSync(path, 'utf8')) };
    });
}

export function examples(): Example[] {
  return load(repoPath('examples'));
}

export function invalidExamples(): InvalidExample[] {
  return load(repoPath('examples', 'invalid')).map((ex) => ({
    ...ex,
    expected: readFileSync(ex.path.replace(/\.yaml$/, '.expected.txt'), 'utf8')
      .split('\n')
      .filter((l) => l.trim().length > 0),
  }));
}

export function parseExample(obj: { kind?: string }): ParseResult<unknown> {
  if (obj.kind === 'VoiceAgent') return parseVoiceAgent(obj);
  if (obj.kind === 'MemoryStore') return parseMemoryStore(obj);
  if (obj.kind === 'CallCampaign') return parseCallCampaign(obj);
  throw new Error(`unknown kind ${obj.kind}`);
}
