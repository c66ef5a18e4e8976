// Fake Twilio REST API: POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json (form-encoded,
// basic auth). An accepted Twiml update ends the simulated call's stream as Twilio does: at once, with a
// stop; when the new TwiML is a <Connect><Stream>, the simulated call follows it on a new stream.
import { createServer, type Server } from 'node:http';
import { activeCalls } from '../simulator/call.ts';
import { listenOn } from './speech.ts';
import type { FakeTwilioCalls } from './twilio-calls.ts';

export interface CallUpdate {
  accountSid: string;
  callSid: string;
  twiml: string;
}

export class FakeTwilioRest {
  readonly server: Server;
  readonly updates: CallUpdate[] = [];
  rejectedAuth = 0;
  /** Answer call updates with HTTP 500 (a Twilio outage); `failUpdatesMatching` limits it to some TwiML. */
  failUpdates = false;
  failUpdatesMatching: RegExp | undefined;
  failedUpdates = 0;
  /** The Calls API (create, list, fetch) when a test places outbound calls. */
  calls: FakeTwilioCalls | undefined;
  readonly #accountSid: string;
  readonly #authToken: string;

  constructor(accountSid: string, authToken: string) {
    this.#accountSid = accountSid;
    this.#authToken = authToken;
    this.server = createServer((req, res) => {
      if (this.calls?.handle(req, res)) return;
      const m = /^\/2010-04-01\/Accounts\/([^/]+)\/Calls\/([^/]+)\.json$/.exec(req.url ?? '');
      if (req.method !== 'POST' || !m) {
        res.writeHead(404).end();
        return;
      }
      const expected = `Basic ${Buffer.from(`${this.#accountSid}:${this.#authToken}`).toString('base64')}`;
      if (req.headers.authorization !== expected || m[1] !== this.#accountSid) {
        this.rejectedAuth++;
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end('{"code":20003,"message":"Authenticate"}');
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const form = new URLSearchParams(Buffer.concat(chunks).toString());
        const callSid = decodeURIComponent(m[2] as string);
        const twiml = form.get('Twiml') ?? '';
        if (this.failUpdates && (!this.failUpdatesMatching || this.failUpdatesMatching.test(twiml))) {
          this.failedUpdates++;
          res
            .writeHead(500, { 'content-type': 'application/json' })
            .end('{"code":20500,"message":"Internal Server Error"}');
          return;
        }
        this.updates.push({ accountSid: m[1] as string, callSid, twiml });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ sid: callSid, status: 'in-progress' }));
        setTimeout(() => activeCalls.get(callSid)?.redirected(twiml), 20);
      });
    });
  }

  async start(): Promise<string> {
    return `http://127.0.0.1:${await listenOn(this.server)}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
