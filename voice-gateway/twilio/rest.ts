// The one Twilio REST call the gateway makes: redirect a live call to new TwiML
// (fallback when the backend fails mid-call, goodbye at max duration / silence / drain deadline).

export interface TwilioRestOptions {
  accountSid: string;
  authToken: string;
  baseUrl: string;
  timeoutMs?: number;
}

export class TwilioRest {
  readonly #o: TwilioRestOptions;
  readonly #auth: string;
  constructor(o: TwilioRestOptions) {
    this.#o = o;
    this.#auth = `Basic ${Buffer.from(`${o.accountSid}:${o.authToken}`).toString('base64')}`;
  }

  /** Replaces the call's TwiML. Resolves true when Twilio accepted it. Never rejects. */
  async updateCall(callSid: string, twiml: string): Promise<boolean> {
    const base = this.#o.baseUrl.replace(/\/$/, '');
    const url = `${base}/2010-04-01/Accounts/${encodeURIComponent(this.#o.accountSid)}/Calls/${encodeURIComponent(callSid)}.json`;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { authorization: this.#auth, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ Twiml: twiml }).toString(),
        signal: AbortSignal.timeout(this.#o.timeoutMs ?? 5000),
      });
      await res.arrayBuffer();
      return res.ok;
    } catch {
      return false;
    }
  }
}
