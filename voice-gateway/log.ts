// Structured JSON logs for the gateway and the operator: string levels (`level: "info"`) plus a Cloud Logging
// `severity`, ISO-8601 timestamps, errors with their stack (`err`), and on every line where the process runs:
// `namespace`, `pod` and, for a gateway, `voiceagent` (set by the rendered Deployment from the downward API).
import { type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger };

const SEVERITY: Record<string, string> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
};

/** The fields every line carries, from the environment (absent ones are left out). */
export function logContext(component: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const fields: Record<string, string | undefined> = {
    component,
    namespace: env.POD_NAMESPACE,
    voiceagent: env.CALLFLEET_VOICEAGENT,
    pod: env.POD_NAME ?? env.HOSTNAME,
  };
  return Object.fromEntries(Object.entries(fields).filter((e): e is [string, string] => Boolean(e[1])));
}

export function loggerOptions(component: string, level: string, env = process.env): LoggerOptions {
  return {
    level,
    base: logContext(component, env),
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label, severity: SEVERITY[label] ?? 'DEFAULT' }) },
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
  };
}

export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino(loggerOptions('voice-gateway', level));
}

/** +14155550100 -> +1******0100: keeps the country prefix and the last four digits. */
export function maskPhone(phone: string | undefined): string {
  if (!phone) return '';
  const p = phone.trim();
  if (p.length <= 6) return '*'.repeat(p.length);
  return `${p.slice(0, 2)}${'*'.repeat(p.length - 6)}${p.slice(-4)}`;
}
