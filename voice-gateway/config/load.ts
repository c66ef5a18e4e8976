import { readFileSync } from 'node:fs';
import { type GatewayConfig, gatewayConfigSchema } from './schema.ts';

export class ConfigError extends Error {}

/** Parses and validates a config object; throws ConfigError naming the field path. */
export function parseGatewayConfig(raw: unknown): GatewayConfig {
  const result = gatewayConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  const lines = result.error.issues.map(
    (i) => `  ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`,
  );
  throw new ConfigError(`invalid gateway config:\n${lines.join('\n')}`);
}

export function loadGatewayConfig(file: string | undefined): GatewayConfig {
  if (!file) throw new ConfigError('CALLFLEET_GATEWAY_CONFIG is not set (path of the gateway config JSON)');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read gateway config ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`gateway config ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseGatewayConfig(raw);
}
