// Form-encoded bodies (Twilio webhooks): every field, repeated ones as arrays, as a signature covers them.
export type FormParams = Record<string, string | string[]>;

export function formParams(body: Buffer): FormParams {
  const out: FormParams = {};
  for (const [k, v] of new URLSearchParams(body.toString('utf8'))) {
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else out[k] = [prev, v];
  }
  return out;
}
