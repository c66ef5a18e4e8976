// The public paths of the gateway contract and which Service carries them. /health, /status and
// /metrics are never routed from outside.
import { GATEWAY_PORT, PORT_NAME } from './model.ts';

export const STREAM_PREFIX = '/twilio/stream/';
/** The stream prefix as a path prefix (no trailing slash), for load balancers that match by prefix. */
export const STREAM_PATH_PREFIX = STREAM_PREFIX.replace(/\/$/, '');
/** Call SIDs: "CA" + 32 hex digits; the regex admits any SID-like token. */
export const STREAM_REGEX = '/twilio/stream/([A-Za-z0-9]+)';
export const WEBHOOK_PREFIXES = [
  '/twilio/voice',
  '/twilio/stream-status',
  '/twilio/call-status',
  // A warm transfer's whisper: Twilio fetches /twilio/whisper/<token> when the human answers.
  '/twilio/whisper',
  '/elevenlabs',
] as const;
export const STREAM_TIMEOUT_SECONDS = 3600;
export const WEBHOOK_TIMEOUT_SECONDS = 30;

export const backend = (service: string) => ({ service: { name: service, port: { name: PORT_NAME } } });
export { GATEWAY_PORT };

/**
 * One rule for the host with plain prefix paths (streams → the streams Service, webhooks → the webhooks
 * Service), for load balancers that route by prefix (ALB, GCE).
 */
export function prefixRules(host: string, streamsService: string, webhooksService: string) {
  return [
    {
      host,
      http: {
        paths: [
          { path: STREAM_PATH_PREFIX, pathType: 'Prefix', backend: backend(streamsService) },
          ...WEBHOOK_PREFIXES.map((path) => ({
            path,
            pathType: 'Prefix',
            backend: backend(webhooksService),
          })),
        ],
      },
    },
  ];
}

export function tls(host: string, secretName: string | undefined) {
  return secretName ? [{ hosts: [host], secretName }] : undefined;
}
