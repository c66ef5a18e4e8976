import { type Logger, pino } from 'pino';

export type { Logger };

export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { component: 'voice-gateway' } });
}

/** +14155550100 -> +1******0100: keeps the country prefix and the last four digits. */
export function maskPhone(phone: string | undefined): string {
  if (!phone) return '';
  const p = phone.trim();
  if (p.length <= 6) return '*'.repeat(p.length);
  return `${p.slice(0, 2)}${'*'.repeat(p.length - 6)}${p.slice(-4)}`;
}
