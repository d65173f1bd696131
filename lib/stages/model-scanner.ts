import { checkModelName } from "../model-name.js";
import { BACKSLASH, Finder, QUOTE } from "./byte-finder.js";
import { CONTROL, NOT_HERE, ValueSkipper } from "./json-skip.js";
import { decodeString, keyIndex } from "./json-string.js";

/** Longest model name accepted (Ollama's longest valid name with a real DNS host fits). */
const MAX_MODEL_BYTES = 512;
/** A key longer than this cannot be one we look for, even written with \u escapes. */
const MAX_KEY_BYTES = 64;

enum S {
  BeforeObject,
  KeyOrEnd,
  Key,
  InKey,
  Colon,
  Value,
  InValue,
  SkipString,
  SkipNested,
  SkipScalar,
  AfterValue,
  Done,
}

const CONTROL_IN_STRING = "invalid JSON: control character in a string";
/** With the u flag a proper pair is one code point, so only an unpaired surrogate is in \p{Cs}. */
const LONE_SURROGATE = /\p{Cs}/u;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/** The scanner's answer for a whole body. */
export type ScanResult = { readonly model: string } | { readonly error: string };

/** What the scanner knows after a chunk; see {@link ModelScanner}. */
export type ScanProgress =
  /** The model is not known yet: push more. */
  | { readonly kind: "reading" }
  /** The model is known and no later byte can change it; a later byte can still refuse the body. */
  | { readonly kind: "known"; readonly model: string }
  /** The top-level object has ended: `finish()` gives this model whatever follows. */
  | { readonly kind: "complete"; readonly model: string }
  /** The body is refused (400): stop reading it, and abort an upstream request already sent. */
  | { readonly kind: "refused"; readonly error: string };

const READING: ScanProgress = { kind: "reading" };

/**
 * An incremental scanner for the model a JSON request body names, read the way Ollama will
 * read it. Ollama (Go's encoding/json) matches top-level keys case-insensitively and keeps the
 * *last* of several; a scanner that took the first would route, check and log one model while
 * Ollama serves another. So every top-level key is compared as Go compares it (goKeyMatches), a
 * second key folding to one of `keys` refuses the body, and the body is scanned to its end.
 *
 * Two steps, so that a large body can stream to its backend while it is scanned:
 * - `push(chunk)` for every chunk, in order. It answers a {@link ScanProgress}: `known` as soon
 *   as the model is fixed (the first of `keys` with a non-empty value — later keys are
 *   aliases, Ollama's `name`, used when the earlier ones are absent or `""`), `refused` when the
 *   body cannot be served (malformed, a duplicate key, a name outside Ollama's grammar), and
 *   `complete` when the top-level object has closed (Ollama's decoder stops there too).
 *   `known` is not final: a duplicate may still come, and then the request must not complete.
 * - `finish()` when the body has ended: `{model}` or `{error}`, the same answer whatever
 *   the chunking. `model()` is the model once known.
 *
 * Nested objects and arrays are skipped by depth, so their `model` keys never count. String
 * contents and nested values are not stepped through byte by byte: short stretches are
 * checked four bytes at a time, long ones crossed with Buffer.indexOf (see ValueSkipper), so that
 * reading a 10 MB image upload to its end costs a fraction of receiving it. It is not a full
 * validator: Ollama judges what it does not need to look at.
 */
export class ModelScanner {
  private state = S.BeforeObject;
  /** The keys as given, for messages, and in lower case, for matching. */
  private readonly names: readonly string[];
  private readonly keys: readonly string[];
  private readonly seen: boolean[];
  /** The value of each key once read (null until then). */
  private readonly values: (string | null)[];
  private buf: number[] = [];
  private escaped = false;
  private hasEscape = false;
  /** Crosses the values not read: strings, nested objects and arrays. */
  private readonly skip = new ValueSkipper();
  /** Where a skipped string leads: a value's end, or the colon after an overlong key. */
  private afterSkip: S.AfterValue | S.Colon = S.AfterValue;
  /** Index in `keys` of the key whose value is being read; -1 for other keys. */
  private current = -1;
  private known: string | null = null;
  private progress: ScanProgress = READING;
  private error: string | null = null;
  private seenAny = false;

  constructor(keys: readonly string[]) {
    this.names = keys;
    this.keys = keys.map((k) => k.toLowerCase());
    this.seen = keys.map(() => false);
    this.values = keys.map(() => null);
  }

  /** Feeds the next chunk of the body; once `refused` or `complete`, further chunks are ignored. */
  push(chunk: Uint8Array): ScanProgress {
    if (this.done() || chunk.length === 0) return this.progress;
    this.seenAny = true;
    const buf = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const find = new Finder(buf);
    let i = 0;
    while (i < buf.length && !this.done()) i = this.advance(buf, i, find);
    return this.progress;
  }

  /** The model, once `push` has reported it known; null before, and for a refused body. */
  model(): string | null {
    return this.error === null ? this.known : null;
  }

  /** The answer for the whole body; call it when the body has ended. */
  finish(): ScanResult {
    if (this.state !== S.Done) {
      this.fail(
        this.seenAny
          ? "invalid JSON: the request body ended before the object was complete"
          : "missing request body",
      );
    }
    return this.error !== null ? { error: this.error } : { model: this.known! };
  }

  private done(): boolean {
    return this.state === S.Done;
  }

  private fail(message: string): void {
    this.error = message;
    this.state = S.Done;
    this.progress = { kind: "refused", error: message };
  }

  /** Reads from `i` as far as the current state goes in one step; returns where it stopped. */
  private advance(buf: Buffer, i: number, find: Finder): number {
    switch (this.state) {
      case S.SkipString: {
        const q = this.skip.closingQuote(buf, i, find);
        if (q === NOT_HERE) return buf.length; // goes on in the next chunk
        if (q === CONTROL) return this.controlInString(buf);
        this.state = this.afterSkip;
        return q + 1;
      }
      case S.SkipNested: {
        const at = this.skip.nested(buf, i, find);
        if (at === CONTROL) return this.controlInString(buf);
        if (this.skip.closed()) this.state = S.AfterValue;
        return at;
      }
      case S.SkipScalar:
        return this.skipScalar(buf, i);
      case S.InKey:
      case S.InValue: {
        const state = this.state;
        while (i < buf.length && this.state === state) this.stringByte(buf[i++]!);
        return i;
      }
      default: {
        // White space between tokens, however much of it, in one tight loop.
        let j = i;
        while (j < buf.length && isSpace(buf[j]!)) j++;
        if (j > i) return j;
        this.structural(buf[i]!);
        return i + 1;
      }
    }
  }

  /** One byte (not white space) between the top-level tokens. */
  private structural(b: number): void {
    switch (this.state) {
      case S.BeforeObject:
        if (b === 0x7b /* { */) this.state = S.KeyOrEnd;
        else this.fail("invalid JSON: the request body must be a JSON object");
        return;
      case S.KeyOrEnd:
      case S.Key:
        if (b === QUOTE) {
          this.startString(S.InKey);
        } else if (b === 0x7d /* } */ && this.state === S.KeyOrEnd) {
          this.end();
        } else {
          this.fail("invalid JSON: expected a key in double quotes");
        }
        return;
      case S.Colon:
        if (b === 0x3a /* : */) this.state = S.Value;
        else this.fail("invalid JSON: expected ':' after a key");
        return;
      case S.Value:
        if (this.current !== -1) {
          if (b !== QUOTE) {
            this.fail(`invalid request: "${this.names[this.current]}" must be a string`);
            return;
          }
          this.startString(S.InValue);
        } else if (b === QUOTE) {
          this.skip.startString();
          this.afterSkip = S.AfterValue;
          this.state = S.SkipString;
        } else if (b === 0x7b || b === 0x5b /* [ */) {
          this.skip.startNested();
          this.state = S.SkipNested;
        } else if (b === 0x2d /* - */ || (b >= 0x30 && b <= 0x39) || b === 0x74 || b === 0x66 || b === 0x6e) {
          this.state = S.SkipScalar; // a number, true, false or null
        } else {
          this.fail("invalid JSON: unexpected character where a value should be");
        }
        return;
      case S.AfterValue:
        if (b === 0x2c /* , */) this.state = S.Key;
        else if (b === 0x7d) this.end();
        else this.fail("invalid JSON: expected ',' or '}' after a value");
        return;
      default:
        return;
    }
  }

  /** A skipped string held a control character: the body is refused; the chunk is done. */
  private controlInString(buf: Buffer): number {
    this.fail(CONTROL_IN_STRING);
    return buf.length;
  }

  /** The top-level object has closed: what Ollama decodes ends here. */
  private end(): void {
    this.state = S.Done;
    this.settle(true);
    if (this.error === null) this.progress = { kind: "complete", model: this.known! };
  }

  /** A number or literal at the top level: its characters, up to the byte that ends it. */
  private skipScalar(buf: Buffer, i: number): number {
    for (; i < buf.length; i++) {
      const b = buf[i]!;
      if (b === 0x2c || b === 0x7d || isSpace(b)) {
        this.state = S.AfterValue; // that byte is the next state's
        return i;
      }
      const scalar =
        (b >= 0x30 && b <= 0x39) ||
        (b >= 0x61 && b <= 0x7a) ||
        b === 0x2e ||
        b === 0x2b ||
        b === 0x2d ||
        b === 0x45;
      if (!scalar) {
        this.fail("invalid JSON: malformed number or literal");
        return i;
      }
    }
    return i;
  }

  private startString(state: S.InKey | S.InValue): void {
    this.buf = [];
    this.escaped = false;
    this.hasEscape = false;
    this.state = state;
  }

  /** One byte of a top-level key or of a value of one of `keys`. */
  private stringByte(b: number): void {
    if (this.escaped) {
      this.escaped = false;
    } else if (b === BACKSLASH) {
      this.escaped = true;
      this.hasEscape = true;
    } else if (b === QUOTE) {
      this.endString();
      return;
    } else if (b < 0x20) {
      this.fail(CONTROL_IN_STRING);
      return;
    }
    if (this.state === S.InKey) {
      if (this.buf.length < MAX_KEY_BYTES) {
        this.buf.push(b);
      } else {
        // Too long to be one of ours: skipped to its end like any string, then matches nothing.
        this.current = -1;
        this.skip.startString(this.escaped);
        this.afterSkip = S.Colon;
        this.state = S.SkipString;
      }
    } else if (this.buf.length < MAX_MODEL_BYTES) {
      this.buf.push(b);
    } else {
      this.fail(`invalid request: "${this.names[this.current]}" is longer than ${MAX_MODEL_BYTES} bytes`);
    }
  }

  private endString(): void {
    if (this.state === S.InKey) {
      const k = keyIndex(this.buf, this.hasEscape, this.keys);
      if (typeof k !== "number") {
        this.fail(k.error);
        return;
      }
      this.state = S.Colon;
      this.current = k;
      if (this.current === -1) return;
      if (this.seen[this.current]) {
        this.fail(
          `invalid request: more than one "${this.names[this.current]}" key (keys match regardless of case)`,
        );
        return;
      }
      this.seen[this.current] = true;
      return;
    }
    const decoded = decodeString(this.buf, this.hasEscape);
    if (typeof decoded !== "string") {
      this.fail(decoded.error);
      return;
    }
    // "\ud83d" alone parses, but is no text: Ollama (Go) would read it as U+FFFD, a different
    // name from the one we would route by, and it cannot be written to the log as UTF-8.
    if (LONE_SURROGATE.test(decoded)) {
      this.fail(`invalid request: "${this.names[this.current]}" contains an unpaired surrogate escape`);
      return;
    }
    this.values[this.current] = decoded;
    this.state = S.AfterValue;
    this.settle(false);
  }

  /**
   * Fixes the model once nothing later can change it: the first key with a non-empty value
   * (Ollama: `cmp.Or(req.Model, req.Name)`), every key before it read (empty). Until the
   * object has ended, a key not yet read may still come; a key read twice refuses the body.
   */
  private settle(ended: boolean): void {
    if (this.known !== null) return;
    for (let k = 0; k < this.values.length; k++) {
      const v = this.values[k] ?? null;
      if (v === null && !ended) return;
      if (v === null || v === "") continue;
      const checked = checkModelName(v);
      if ("error" in checked) {
        this.fail(checked.error);
      } else if (checked.name === "") {
        this.fail(`${this.names[0]} is required`); // only white space, which Ollama trims away
      } else {
        this.known = checked.name;
        if (!ended) this.progress = { kind: "known", model: checked.name };
      }
      return;
    }
    if (ended) this.fail(`${this.names[0]} is required`);
  }
}
