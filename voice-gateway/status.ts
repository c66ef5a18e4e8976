// The `/status` document: what a gateway reports about its calls, written by the gateway and parsed by
// the operator's call tracker (operator/tracker/call-tracker.ts). One definition, like the gateway config.
import { z } from 'zod';

export const gatewayStatusSchema = z.object({
  activeCalls: z.int().min(0).describe('Live calls on this pod'),
  capacity: z.int().min(0).describe('calls.maxConcurrentPerPod: calls beyond it get the fallback'),
  draining: z.boolean().describe('SIGTERM received: readiness 503, new calls get the fallback'),
  // Defaults: a gateway of an older version (mid-upgrade) may not report them yet.
  callsTotal: z.int().min(0).default(0).describe('Calls ended since the gateway started'),
  callsFailed: z.int().min(0).default(0).describe('Of those, calls that failed'),
  connectingCalls: z
    .int()
    .min(0)
    .default(0)
    .describe('Calls the voice webhook answered whose media stream has not started yet (the pod is busy)'),
});

export type GatewayStatus = z.output<typeof gatewayStatusSchema>;

/** The document, or undefined when the body is not one (the tracker then counts the poll as failed). */
export function parseGatewayStatus(body: unknown): GatewayStatus | undefined {
  const result = gatewayStatusSchema.safeParse(body);
  return result.success ? result.data : undefined;
}
