// Twilio's Calls API as the dialer uses it: create (POST Calls.json), list (GET Calls.json filtered by
// To, From and StartTime>=, paged by next_page_uri) and fetch one. Timeouts are bounded; a create that
// times out or fails with 5xx is "unknown" (the Calls list decides later), a 4xx is a refusal.

export interface TwilioAccount {
  accountSid: string;
  authToken: string;
  baseUrl: string;
}

export interface CallRecord {
  sid: string;
  to: string;
  from: string;
  status: string;
  answered_by?: string | null;
  date_created: string | null;
}

export type CreateResult =
  | { kind: 'created'; sid: string; status: string }
  | { kind: 'refused'; status: number; code?: number }
  | { kind: 'unknown'; error: string };

export interface CreateCall {
  to: string;
  from: string;
  url: string;
  statusCallback: string;
  timeoutSeconds: number;
  machineDetection: boolean;
}

const auth = (a: TwilioAccount) =>
  `Basic ${Buffer.from(`${a.accountSid}:${a.authToken}`).toString('base64')}`;
const callsUrl = (a: TwilioAccount) =>
  `${a.baseUrl.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(a.accountSid)}/Calls.json`;

export async function createCall(a: TwilioAccount, c: CreateCall, timeoutMs = 5000): Promise<CreateResult> {
  const form = new URLSearchParams({
    To: c.to,
    From: c.from,
    Url: c.url,
    Method: 'POST',
    StatusCallback: c.statusCallback,
    StatusCallbackMethod: 'POST',
    Timeout: String(c.timeoutSeconds),
  });
  for (const e of ['initiated', 'ringing', 'answered', 'completed']) form.append('StatusCallbackEvent', e);
  if (c.machineDetection) form.set('MachineDetection', 'DetectMessageEnd');
  try {
    const res = await fetch(callsUrl(a), {
      method: 'POST',
      headers: { authorization: auth(a), 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.json().catch(() => ({}))) as { sid?: string; status?: string; code?: number };
    if (res.status === 201 || res.status === 200) {
      if (typeof body.sid === 'string')
        return { kind: 'created', sid: body.sid, status: body.status ?? 'queued' };
      return { kind: 'unknown', error: 'no sid in the response' };
    }
    if (res.status >= 400 && res.status < 500 && res.status !== 429)
      return { kind: 'refused', status: res.status, ...(body.code ? { code: body.code } : {}) };
    return { kind: 'unknown', error: `HTTP ${res.status}` };
  } catch (error) {
    return { kind: 'unknown', error: (error as Error).name };
  }
}

/** Calls to `to` from `from` created on or after `since`'s UTC day (Twilio filters by date), every page. */
export async function listCalls(
  a: TwilioAccount,
  to: string,
  from: string,
  since: Date,
): Promise<CallRecord[]> {
  const q = new URLSearchParams({
    To: to,
    From: from,
    'StartTime>': since.toISOString().slice(0, 10),
    PageSize: '100',
  });
  // Twilio's documented filter is `StartTime>=YYYY-MM-DD`; URLSearchParams writes the `=` after the `>`.
  let url: string | undefined = `${callsUrl(a)}?${q.toString().replace('StartTime%3E=', 'StartTime%3E%3D=')}`;
  const base = a.baseUrl.replace(/\/+$/, '');
  const out: CallRecord[] = [];
  for (let page = 0; url && page < 20; page++) {
    const res = await fetch(url, { headers: { authorization: auth(a) }, signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`Twilio Calls list: HTTP ${res.status}`);
    const body = (await res.json()) as { calls?: CallRecord[]; next_page_uri?: string | null };
    out.push(...(body.calls ?? []));
    url = body.next_page_uri ? `${base}${body.next_page_uri}` : undefined;
  }
  return out;
}

export async function fetchCall(a: TwilioAccount, sid: string): Promise<CallRecord | undefined> {
  const url = callsUrl(a).replace(/\.json$/, `/${encodeURIComponent(sid)}.json`);
  const res = await fetch(url, { headers: { authorization: auth(a) }, signal: AbortSignal.timeout(5000) });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`Twilio Calls fetch: HTTP ${res.status}`);
  return (await res.json()) as CallRecord;
}
