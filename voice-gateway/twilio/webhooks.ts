// Twilio's HTTP webhooks: the voice webhook (answers TwiML: the stream, or the fallback), the stream
// and call status callbacks and a warm transfer's whisper. Each checks X-Twilio-Signature against the
// public URL Twilio requested; the route table (voice-gateway/http/routes.ts) says where each is served.
import { ATTEMPT_PARAM, isAttemptId } from '../campaign/attempts.ts';
import type { CampaignHooks } from '../campaign/gateway-hooks.ts';
import { outboundAnswer, recordRefusal } from '../campaign/outbound.ts';
import type { GatewayConfig } from '../config/schema.ts';
import { formParams } from '../http/form.ts';
import { firstValue, header } from '../http/headers.ts';
import { text, xml } from '../http/response.ts';
import type { Handler, HttpRequest, HttpResponse } from '../http/types.ts';
import type { Logger } from '../log.ts';
import { maskPhone } from '../log.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { type SignatureParams, validateSignature } from './signature.ts';
import { MAX_PARTY_LENGTH, STREAM_CREDENTIAL_PARAM, type StreamClaims } from './stream-credential.ts';
import { connectStreamTwiml, fallbackTwiml, whisperTwiml } from './twiml.ts';
import { WHISPER_PATH, type WhisperTokens } from './whisper-token.ts';

/** Why the voice webhook answers the fallback instead of a stream. */
export type FallbackReason =
  | 'fallback_draining'
  | 'fallback_capacity'
  | 'fallback_circuit_open'
  | 'fallback_bad_request';

export interface TwilioWebhookOptions {
  authToken: string;
  /** The public base URL (https://host), what Twilio signs; and its wss:// form for stream URLs. */
  httpBase: string;
  wssBase: string;
  config: GatewayConfig;
  metrics: GatewayMetrics;
  log: Logger;
  campaigns: CampaignHooks | undefined;
  /** Sealed whisper summaries (absent without a stream key: every whisper answers 404). */
  whispers: WhisperTokens | undefined;
  /** Why this pod takes no new call now (draining, full, every backend down), or undefined. */
  refusal(): FallbackReason | undefined;
  /** The stream credential of a call this webhook answers with a stream. */
  issueCredential(claims: Omit<StreamClaims, 'expiresAt' | 'id'>): string;
  /** The call is on this pod from now on (the busy edge goes to the operator before Twilio connects). */
  connecting(callSid: string): void;
}

export interface TwilioWebhookHandlers {
  voice: Handler;
  streamStatus: Handler;
  callStatus: Handler;
  whisper: Handler;
}

export function twilioWebhooks(o: TwilioWebhookOptions): TwilioWebhookHandlers {
  /** undefined when the signature is valid; otherwise the refusal to send. */
  const checkSignature = (req: HttpRequest, params: SignatureParams, endpoint: string) => {
    const sig = header(req.headers, 'x-twilio-signature');
    if (!sig) {
      o.metrics.signatureRejected.labels(endpoint).inc();
      return text(400, 'missing X-Twilio-Signature');
    }
    if (!validateSignature(o.authToken, sig, o.httpBase + req.url, params)) {
      o.metrics.signatureRejected.labels(endpoint).inc();
      o.log.warn({ endpoint }, 'rejected a request with a wrong X-Twilio-Signature');
      return text(403, 'invalid X-Twilio-Signature');
    }
    return undefined;
  };

  /** A handler of a signed form-encoded webhook: `signed` runs only when the signature is valid. */
  const signedForm =
    (
      endpoint: string,
      signed: (req: HttpRequest, params: SignatureParams) => HttpResponse | Promise<HttpResponse>,
    ): Handler =>
    (req) => {
      const params = formParams(req.body);
      return checkSignature(req, params, endpoint) ?? signed(req, params);
    };

  const voice = async (req: HttpRequest, params: SignatureParams): Promise<HttpResponse> => {
    const callSid = firstValue(params.CallSid);
    // A campaign call (its attempt id in the signed URL): the remote party is `To`, a machine gets
    // the voicemail answer; the stream below is credentialed exactly like an inbound call's.
    const outbound = await outboundAnswer(req.query, params, o.campaigns, o.log);
    if (outbound.twiml) return xml(outbound.twiml);
    const from = outbound.remote ?? firstValue(params.From) ?? '';
    const to = outbound.remote ? (firstValue(params.From) ?? '') : (firstValue(params.To) ?? '');
    const bad =
      !callSid ||
      !/^[A-Za-z0-9_-]{1,64}$/.test(callSid) ||
      from.length > MAX_PARTY_LENGTH ||
      to.length > MAX_PARTY_LENGTH;
    const reason = o.refusal() ?? (bad ? 'fallback_bad_request' : undefined);
    o.metrics.webhooks.labels(reason ?? 'stream').inc();
    o.log.info(
      { callSid, from: maskPhone(from), to: maskPhone(to), result: reason ?? 'stream' },
      'voice webhook',
    );
    if (reason) {
      if (outbound.attempt) await recordRefusal(outbound.attempt, callSid ?? '', o.campaigns, o.log);
      return xml(fallbackTwiml(o.config.calls.fallback));
    }
    // The stream acts only on what this signed request says: its credential carries exactly that.
    const credential = o.issueCredential({
      callSid: callSid as string,
      accountSid: firstValue(params.AccountSid) ?? '',
      from,
      to,
    });
    const twiml = connectStreamTwiml({
      streamUrl: `${o.wssBase}/twilio/stream/${callSid}`,
      statusCallback: `${o.httpBase}/twilio/stream-status`,
      parameters: { [STREAM_CREDENTIAL_PARAM]: credential },
      say: o.config.recording?.enabled ? o.config.recording.consentAnnouncement : undefined,
    });
    o.connecting(callSid as string);
    return xml(twiml);
  };

  /** A warm transfer's whisper (calls.transfer): Twilio fetches it when the human answers. */
  const whisper = (req: HttpRequest): HttpResponse => {
    const token = new URL(req.url, 'http://x').pathname.slice(WHISPER_PATH.length);
    const summary = o.whispers?.open(token);
    if (summary === undefined) return text(404, 'unknown or expired whisper');
    return xml(whisperTwiml(summary));
  };

  /** Call progress of a campaign call (StatusCallback of Calls create). */
  const callStatus = async (req: HttpRequest, params: SignatureParams): Promise<HttpResponse> => {
    const attempt = req.query.get(ATTEMPT_PARAM);
    const callStatus = firstValue(params.CallStatus) ?? '';
    if (!isAttemptId(attempt) || !o.campaigns) return text(204, '');
    try {
      await o.campaigns.progress(attempt, {
        callSid: firstValue(params.CallSid),
        callStatus,
        answeredBy: firstValue(params.AnsweredBy),
      });
    } catch (error) {
      // Twilio retries nothing here: the dialer fetches calls whose progress stops arriving.
      o.log.warn({ err: String(error), attempt }, 'could not record call progress');
      return text(503, 'call progress not recorded');
    }
    return text(204, '');
  };

  const streamStatus = (_req: HttpRequest, params: SignatureParams): HttpResponse => {
    o.log.info(
      {
        callSid: firstValue(params.CallSid),
        streamSid: firstValue(params.StreamSid),
        event: firstValue(params.StreamEvent),
        error: firstValue(params.StreamError),
      },
      'stream status',
    );
    return text(204, '');
  };

  return {
    voice: signedForm('voice', voice),
    streamStatus: signedForm('stream-status', streamStatus),
    callStatus: signedForm('call-status', callStatus),
    whisper: signedForm('whisper', whisper),
  };
}
