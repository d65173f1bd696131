/**
 * How Ollama (Go's encoding/json) matches a JSON object's keys to a request's fields: exactly
 * or case-insensitively, each character folded to the smallest of its Unicode simple-fold
 * orbit (encoding/json's foldName, unicode.SimpleFold), and when several keys match one field
 * the last one in the body wins. So `"KEEP_ALIVE"`, `"Model"` or `"\u212aeep_alive"` (a Kelvin
 * sign) are the same field to Ollama as the lower-case name.
 */

// The non-ASCII letters whose fold orbit holds an ASCII letter. Not U+0130 (İ) or U+0131 (ı):
// their folds to i are Turkic-only, and Go's caseOrbit table folds each to itself.
const FOLDS_TO_ASCII: Readonly<Record<string, string>> = {
  "\u212a": "k", // KELVIN SIGN
  "\u017f": "s", // LATIN SMALL LETTER LONG S
};

/** True when Go would decode `key` into the field whose JSON name is `field` (lower-case ASCII). */
export function goKeyMatches(key: string, field: string): boolean {
  // Every fold above is one UTF-16 unit for one ASCII letter: a different length never matches.
  if (key.length !== field.length) return false;
  if (key === field) return true;
  let i = 0;
  for (const ch of key) {
    const folded = ch.charCodeAt(0) < 128 ? ch.toLowerCase() : FOLDS_TO_ASCII[ch];
    if (folded !== field[i]) return false;
    i++;
  }
  return true;
}

/** The keys of `body` that Go would decode into `field`, in body order (the last one wins). */
export function goKeysFor(body: Readonly<Record<string, unknown>>, field: string): string[] {
  const keys: string[] = [];
  for (const k of Object.keys(body)) if (goKeyMatches(k, field)) keys.push(k);
  return keys;
}
