// TwiML documents the gateway answers with. Values are XML-escaped; the stream URL carries no query.

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;',
  );
}

const head = '<?xml version="1.0" encoding="UTF-8"?>';

export interface StreamTwimlOptions {
  streamUrl: string;
  statusCallback?: string;
  parameters: Record<string, string>;
  /** Said before the stream connects (e.g. the call-recording consent announcement). */
  say?: string | undefined;
}

export function connectStreamTwiml(o: StreamTwimlOptions): string {
  let params = '';
  for (const [name, value] of Object.entries(o.parameters)) {
    params += `<Parameter name="${escapeXml(name)}" value="${escapeXml(value.slice(0, 480))}"/>`;
  }
  const cb = o.statusCallback ? ` statusCallback="${escapeXml(o.statusCallback)}"` : '';
  const say = o.say ? `<Say>${escapeXml(o.say)}</Say>` : '';
  return `${head}<Response>${say}<Connect><Stream url="${escapeXml(o.streamUrl)}"${cb}>${params}</Stream></Connect></Response>`;
}

export interface FallbackTwiml {
  say?: string | undefined;
  dial?: string | undefined;
}

export function fallbackTwiml(f: FallbackTwiml): string {
  let body = '';
  if (f.say) body += `<Say>${escapeXml(f.say)}</Say>`;
  if (f.dial) body += `<Dial>${escapeXml(f.dial)}</Dial>`;
  else body += '<Hangup/>';
  return `${head}<Response>${body}</Response>`;
}

export function goodbyeTwiml(text: string): string {
  return `${head}<Response><Say>${escapeXml(text)}</Say><Hangup/></Response>`;
}

export interface DialTwiml {
  /** Said before dialling (optional). */
  say?: string | undefined;
  /** E.164 number or sip:/sips: URI. */
  dial: string;
  timeoutSeconds: number;
  /** Whisper URL Twilio fetches when the human answers (the `url` of <Number>/<Sip>). */
  whisperUrl?: string | undefined;
}

/** A transfer to a human: `<Say>` then `<Dial>` with one `<Number>` or `<Sip>` noun. */
export function dialTwiml(d: DialTwiml): string {
  const noun = d.dial.startsWith('sip') ? 'Sip' : 'Number';
  const url = d.whisperUrl ? ` url="${escapeXml(d.whisperUrl)}" method="POST"` : '';
  const say = d.say ? `<Say>${escapeXml(d.say)}</Say>` : '';
  return `${head}<Response>${say}<Dial timeout="${d.timeoutSeconds}"><${noun}${url}>${escapeXml(d.dial)}</${noun}></Dial></Response>`;
}

/** What the human hears on answering a warm transfer, before being connected. */
export function whisperTwiml(summary: string): string {
  return `${head}<Response><Say>${escapeXml(summary)}</Say></Response>`;
}
