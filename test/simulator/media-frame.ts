// A Twilio `media` message as Twilio sends it: field order and string-typed numbers as in
// test/fixtures/twilio-media-streams.json (the shape the gateway's fast path reads).

/** `payload` is base64 mu-law; `chunk` and `timestampMs` follow `seq` unless given. */
export function mediaFrame(
  streamSid: string,
  payload: string,
  seq = 2,
  chunk = seq,
  timestampMs = seq * 20,
): string {
  return `{"event":"media","sequenceNumber":"${seq}","media":{"track":"inbound","chunk":"${chunk}","timestamp":"${timestampMs}","payload":"${payload}"},"streamSid":"${streamSid}"}`;
}
