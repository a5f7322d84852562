// Text messages as strings: received bytes (already valid UTF-8) to a string, and a
// string to send back to UTF-8, reusing the received bytes when the handler echoes the
// text it is handling. The session marks that text in `handledText` while it runs the
// handler synchronously, and clears it after.

import { isAscii } from 'node:buffer';

/** Text at least this long is checked for ASCII first (SIMD), which decodes as latin1: a copy. */
const ASCII_CHECK_MIN = 1024;

/** The string of a message's bytes, which are valid UTF-8. */
export function decodeText(b: Buffer): string {
  // ASCII is the same string read as latin1, and V8 decodes that far faster than UTF-8
  return b.length >= ASCII_CHECK_MIN && isAscii(b) ? b.toString('latin1') : b.toString('utf8');
}

/**
 * The text message being handled (synchronously, by any session) and its UTF-8 bytes.
 * Any equal string has the same UTF-8, so the pair is right for whoever sends it.
 */
export const handledText: { text: string | null; bytes: Buffer | null } = {
  text: null,
  bytes: null,
};

/** UTF-8 of a string to send; the received bytes when it is the text being handled. */
export function utf8Of(text: string): Buffer {
  return text === handledText.text ? handledText.bytes! : Buffer.from(text, 'utf8');
}
