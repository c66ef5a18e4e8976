// Requests to gateway pods' internal doors (the /status poll, /retire): one short-lived connection each,
// the answer bounded in bytes and the whole exchange in time. Not fetch(): undici keeps a connection
// pool per origin and every pod IP is one, so the operator held 16 KB of pool queue and an idle
// keep-alive socket per pod between polls (16 MB at 1,000 pods, measured with a heap snapshot), and
// fetch's res.json() reads a body of any size.
import { Agent, request } from 'node:http';

/** No keep-alive: the agent keeps no state per pod once an answer is in. */
const agent = new Agent({ keepAlive: false });

/** A gateway's internal answers are small JSON documents; anything larger is not a gateway. */
export const MAX_POD_ANSWER_BYTES = 64 * 1024;

export interface PodAnswer {
  status: number;
  /** The parsed JSON body; undefined when empty or not JSON. */
  body: unknown;
}

export interface PodRequest {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  maxBytes?: number;
}

/** Rejects on a connection error, a timeout (connect to last byte) or an answer over maxBytes. */
export function askPod(url: string, r: PodRequest): Promise<PodAnswer> {
  const maxBytes = r.maxBytes ?? MAX_POD_ANSWER_BYTES;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: r.method ?? 'GET', headers: r.headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) req.destroy(new Error(`answer over ${maxBytes} bytes`));
        else chunks.push(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: parseJson(Buffer.concat(chunks).toString('utf8')) });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${r.timeoutMs} ms`)), r.timeoutMs);
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end(r.body);
  });
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
