// How text sits in a row: plain (`text`) when text encryption is off, else sealed (`text_enc` under
// `key_id`, AAD binding it to its caller). Read the same way by lookups, search and data-rights export.
import { decrypt, type Keyring } from './crypto.ts';

export interface StoredText {
  text: string | null;
  text_enc: Buffer | null;
  key_id: string | null;
}

export function readStoredText(ring: Keyring, stored: StoredText, aad: string): string {
  if (stored.text_enc && stored.key_id) return decrypt(ring, stored.key_id, stored.text_enc, aad);
  return stored.text ?? '';
}

/** A caller's profile: the sealed column when present, else the plain JSON one. */
export function readProfile(
  ring: Keyring,
  callerId: string,
  plain: Record<string, string>,
  enc: Buffer | null,
  keyId: string,
): Record<string, string> {
  if (enc) return JSON.parse(decrypt(ring, keyId, enc, `profile:${callerId}`)) as Record<string, string>;
  return { ...plain };
}
