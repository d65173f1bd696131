import { goKeyMatches } from "../policy/go-keys.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A JSON string's bytes (between its quotes, escapes as written) as text, or why they are not. */
export function decodeString(bytes: readonly number[], hasEscape: boolean): string | { error: string } {
  let text: string;
  try {
    text = utf8.decode(Uint8Array.from(bytes));
  } catch {
    return { error: "invalid JSON: a string is not valid UTF-8" };
  }
  if (!hasEscape) return text;
  try {
    return JSON.parse(`"${text}"`) as string;
  } catch {
    return { error: "invalid JSON: bad escape in a string" };
  }
}

/**
 * Which of `keys` (lower case) a key read as `bytes` is, as Go's encoding/json matches keys
 * (goKeyMatches); -1 for none. A plain ASCII key (nearly every key) is compared byte by byte,
 * case-folded, without decoding it.
 */
export function keyIndex(
  bytes: readonly number[],
  hasEscape: boolean,
  keys: readonly string[],
): number | { error: string } {
  if (!hasEscape && bytes.every((b) => b < 0x80)) return keys.findIndex((key) => sameFolded(bytes, key));
  const decoded = decodeString(bytes, hasEscape);
  return typeof decoded === "string" ? keys.findIndex((key) => goKeyMatches(decoded, key)) : decoded;
}

/** Whether ASCII `bytes` spell `key` (lower case) regardless of case: goKeyMatches for plain ASCII, without decoding. */
function sameFolded(bytes: readonly number[], key: string): boolean {
  if (bytes.length !== key.length) return false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if ((b >= 0x41 && b <= 0x5a ? b + 0x20 : b) !== key.charCodeAt(i)) return false;
  }
  return true;
}
