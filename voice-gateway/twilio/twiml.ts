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
