import type { IncomingMessage } from "node:http";
import { ProxyError } from "../errors.js";
import { bodyTooLarge, type PeekedBody } from "../http/body.js";

/** Longest model name accepted (Ollama's own names are far shorter). */
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

const utf8 = new TextDecoder("utf-8", { fatal: true });
/** With the u flag a proper pair is one code point, so only an unpaired surrogate is in \p{Cs}. */
const LONE_SURROGATE = /\p{Cs}/u;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/**
 * An incremental scanner for the top-level model field of a JSON request body. It looks at
 * each byte once, keeps only the bytes of the key and value it is reading, and stops as soon as
 * the first of `keys` is known. Later keys are aliases (Ollama's `name` for `model`): their
 * value is used when the object ends without the first key. Nested objects are skipped by depth,
 * so their own `model` keys never count. It is not a validator: what follows the answer is not
 * looked at, and Ollama judges it.
 */
export class ModelScanner {
  private state = S.BeforeObject;
  private readonly keys: readonly string[];
  private buf: number[] = [];
  private escaped = false;
  private hasEscape = false;
  private overlong = false;
  private depth = 0;
  private inString = false;
  /** Index in `keys` of the key whose value is being read or skipped; -1 for other keys. */
  private current = -1;
  private best = -1;
  private bestValue = "";
  private error: string | null = null;
  private seenAny = false;

  constructor(keys: readonly string[]) {
    this.keys = keys;
  }

  /** Feeds the next chunk; true once the answer is known (found, missing or malformed). */
  push(chunk: Uint8Array): boolean {
    if (chunk.length > 0) this.seenAny = true;
    for (let i = 0; i < chunk.length && this.state !== S.Done; i++) this.step(chunk[i]!);
    return this.state === S.Done;
  }

  /** The answer once the body has ended (or `push` returned true). */
  result(): { model: string } | { error: string } {
    if (this.error !== null) return { error: this.error };
    if (this.state !== S.Done) {
      if (!this.seenAny) return { error: "missing request body" };
      return { error: "invalid JSON: the request body ended before the object was complete" };
    }
    if (this.best === -1 || this.bestValue === "") return { error: `${this.keys[0]} is required` };
    return { model: this.bestValue };
  }

  private fail(message: string): void {
    this.error = message;
    this.state = S.Done;
  }

  private step(b: number): void {
    switch (this.state) {
      case S.BeforeObject:
        if (isSpace(b)) return;
        if (b === 0x7b /* { */) this.state = S.KeyOrEnd;
        else this.fail("invalid JSON: the request body must be a JSON object");
        return;
      case S.KeyOrEnd:
      case S.Key:
        if (isSpace(b)) return;
        if (b === 0x22 /* " */) {
          this.startString(S.InKey);
        } else if (b === 0x7d /* } */ && this.state === S.KeyOrEnd) {
          this.state = S.Done;
        } else {
          this.fail("invalid JSON: expected a key in double quotes");
        }
        return;
      case S.InKey:
      case S.InValue:
        this.stringByte(b);
        return;
      case S.Colon:
        if (isSpace(b)) return;
        if (b === 0x3a /* : */) this.state = S.Value;
        else this.fail("invalid JSON: expected ':' after a key");
        return;
      case S.Value:
        if (isSpace(b)) return;
        if (this.current !== -1) {
          if (b !== 0x22) {
            this.fail(`invalid request: "${this.keys[this.current]}" must be a string`);
            return;
          }
          this.startString(S.InValue);
        } else if (b === 0x22) {
          this.escaped = false;
          this.state = S.SkipString;
        } else if (b === 0x7b || b === 0x5b /* [ */) {
          this.depth = 1;
          this.inString = false;
          this.escaped = false;
          this.state = S.SkipNested;
        } else if (b === 0x2d /* - */ || (b >= 0x30 && b <= 0x39) || b === 0x74 || b === 0x66 || b === 0x6e) {
          this.state = S.SkipScalar; // a number, true, false or null
        } else {
          this.fail("invalid JSON: unexpected character where a value should be");
        }
        return;
      case S.SkipString:
        if (this.escaped) this.escaped = false;
        else if (b === 0x5c /* \ */) this.escaped = true;
        else if (b === 0x22) this.state = S.AfterValue;
        else if (b < 0x20) this.fail("invalid JSON: control character in a string");
        return;
      case S.SkipNested:
        if (this.inString) {
          if (this.escaped) this.escaped = false;
          else if (b === 0x5c) this.escaped = true;
          else if (b === 0x22) this.inString = false;
          else if (b < 0x20) this.fail("invalid JSON: control character in a string");
        } else if (b === 0x22) {
          this.inString = true;
        } else if (b === 0x7b || b === 0x5b) {
          this.depth++;
        } else if (b === 0x7d || b === 0x5d) {
          if (--this.depth === 0) this.state = S.AfterValue;
        }
        return;
      case S.SkipScalar:
        if (b === 0x2c /* , */ || b === 0x7d || isSpace(b)) {
          this.state = S.AfterValue;
          this.step(b);
        } else if (
          !(
            (b >= 0x30 && b <= 0x39) ||
            (b >= 0x61 && b <= 0x7a) ||
            b === 0x2e ||
            b === 0x2b ||
            b === 0x2d ||
            b === 0x45
          )
        ) {
          this.fail("invalid JSON: malformed number or literal");
        }
        return;
      case S.AfterValue:
        if (isSpace(b)) return;
        if (b === 0x2c) this.state = S.Key;
        else if (b === 0x7d) this.state = S.Done;
        else this.fail("invalid JSON: expected ',' or '}' after a value");
        return;
      case S.Done:
        return;
    }
  }

  private startString(state: S.InKey | S.InValue): void {
    this.buf = [];
    this.escaped = false;
    this.hasEscape = false;
    this.overlong = false;
    this.state = state;
  }

  /** One byte of the key or model value being collected. */
  private stringByte(b: number): void {
    if (this.escaped) {
      this.escaped = false;
    } else if (b === 0x5c) {
      this.escaped = true;
      this.hasEscape = true;
    } else if (b === 0x22) {
      this.endString();
      return;
    } else if (b < 0x20) {
      this.fail("invalid JSON: control character in a string");
      return;
    }
    if (this.state === S.InKey) {
      // An overlong key is read to its end, then matches nothing.
      if (this.buf.length < MAX_KEY_BYTES) this.buf.push(b);
      else this.overlong = true;
    } else if (this.buf.length < MAX_MODEL_BYTES) {
      this.buf.push(b);
    } else {
      this.fail(`invalid request: "${this.keys[this.current]}" is longer than ${MAX_MODEL_BYTES} bytes`);
    }
  }

  private endString(): void {
    if (this.overlong) {
      this.current = -1;
      this.state = S.Colon;
      return;
    }
    const decoded = this.decode();
    if (decoded === null) return;
    if (this.state === S.InKey) {
      this.current = this.keys.indexOf(decoded);
      this.state = S.Colon;
      return;
    }
    // "\ud83d" alone parses, but is no text: Ollama (Go) would read it as U+FFFD, a different
    // name from the one we would route by, and it cannot be written to the log as UTF-8.
    if (LONE_SURROGATE.test(decoded)) {
      this.fail(`invalid request: "${this.keys[this.current]}" contains an unpaired surrogate escape`);
      return;
    }
    // A value of one of our keys. The first key wins at once; an alias waits for the object's end.
    if (this.best === -1 || this.current < this.best) {
      this.best = this.current;
      this.bestValue = decoded;
    }
    this.state = this.current === 0 ? S.Done : S.AfterValue;
  }

  private decode(): string | null {
    let text: string;
    try {
      text = utf8.decode(Uint8Array.from(this.buf));
    } catch {
      this.fail("invalid JSON: a string is not valid UTF-8");
      return null;
    }
    if (!this.hasEscape) return text;
    try {
      return JSON.parse(`"${text}"`) as string;
    } catch {
      this.fail("invalid JSON: bad escape in a string");
      return null;
    }
  }
}

export interface PeekOptions {
  /** Keys naming the model, preferred first (`model`, then Ollama's alias `name`). */
  readonly keys: readonly string[];
  /** Bodies over this are refused with 413. */
  readonly maxBytes: number;
  /** A body that ends within this many bytes is kept whole, for failover. */
  readonly replayBytes: number;
}

/**
 * The peek stage: reads the request body until the model is known, and on to the end when
 * the body is small enough to keep for a retry. Larger bodies are left paused, with the bytes
 * already read pushed back, to stream straight to the chosen server.
 */
export function peekBody(req: IncomingMessage, opts: PeekOptions): Promise<PeekedBody | ProxyError> {
  const header = req.headers["content-length"];
  const declared = header === undefined ? null : Number(header);
  if (declared !== null && declared > opts.maxBytes) return Promise.resolve(bodyTooLarge(opts.maxBytes));
  const scanner = new ModelScanner(opts.keys);
  // A body declared larger than the replay buffer will not be kept whatever happens: it goes
  // on as soon as the model is known, rather than after its first replayBytes.
  const keepUpTo = declared !== null && declared > opts.replayBytes ? 0 : opts.replayBytes;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let found = false;
    const finish = (value: PeekedBody | ProxyError) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > opts.maxBytes) {
        req.pause();
        finish(bodyTooLarge(opts.maxBytes));
        return;
      }
      chunks.push(chunk);
      if (!found) found = scanner.push(chunk);
      if (!found) return;
      const r = scanner.result();
      if ("error" in r) {
        req.pause();
        finish(new ProxyError("bad_request", r.error));
      } else if (bytes > keepUpTo) {
        req.pause();
        // Too big to keep for a retry. The bytes read so far go back to the front of the
        // stream, so that whoever forwards req sends the body whole from its first byte.
        for (let i = chunks.length - 1; i >= 0; i--) req.unshift(chunks[i]!);
        finish({ kind: "flowing", model: r.model, declared });
      }
    };
    const onEnd = () => {
      const r = scanner.result();
      finish(
        "error" in r
          ? new ProxyError("bad_request", r.error)
          : { kind: "whole", model: r.model, chunks, bytes },
      );
    };
    const onError = (err: Error) => finish(new ProxyError("bad_request", `request body: ${err.message}`));
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  });
}
