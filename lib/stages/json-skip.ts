import { BACKSLASH, type Finder, QUOTE } from "./byte-finder.js";

/** Up to this many bytes are looked at in JavaScript before a native search is worth its call. */
const WALK_BYTES = 48;
/** The value's end is not in this chunk: it goes on in the next one. */
export const NOT_HERE = -1;
/** A string holds a control character: the body is not JSON. */
export const CONTROL = -2;

/**
 * Crosses a value the model scanner does not read — a string, or a nested object or array —
 * across chunks, without stepping through it byte by byte: the first WALK_BYTES of a stretch
 * are looked at in JavaScript (cheaper than a native call for a short string), beyond them
 * — an image's base64 — the Finder's native searches jump to the next byte that matters.
 * An escaped byte is never looked at.
 */
export class ValueSkipper {
  /** The last byte read was a backslash: the next one is escaped. */
  private escaped = false;
  private depth = 0;
  private inString = false;

  /** A string starts (after its opening quote); `escaped` when a backslash was read already. */
  startString(escaped = false): void {
    this.escaped = escaped;
  }

  /** An object or array starts (after its opening bracket). */
  startNested(): void {
    this.depth = 1;
    this.inString = false;
    this.escaped = false;
  }

  /** True once the nested value started last has closed. */
  closed(): boolean {
    return this.depth === 0;
  }

  /** Index of the quote that closes the string being skipped, NOT_HERE, or CONTROL. */
  closingQuote(buf: Buffer, from: number, find: Finder): number {
    const len = buf.length;
    let i = from;
    if (this.escaped) {
      if (i >= len) return NOT_HERE;
      this.escaped = false;
      i++;
    }
    for (;;) {
      const walk = Math.min(i + WALK_BYTES, len);
      let stop = find.stringStop(i, walk);
      if (stop === -1) {
        if (walk === len) return NOT_HERE;
        stop = Math.min(find.quote(walk), find.backslash(walk));
        if (find.control(walk) < stop) stop = find.control(walk);
        if (stop === len) return NOT_HERE;
      }
      const c = buf[stop]!;
      if (c === QUOTE) return stop;
      if (c !== BACKSLASH) return CONTROL;
      if (stop + 1 === len) {
        this.escaped = true;
        return NOT_HERE;
      }
      i = stop + 2;
    }
  }

  /**
   * Inside a nested object or array, from string to bracket, counting depth: where the scan
   * goes on (just after the closing bracket once `closed()`, else the chunk's end), or CONTROL.
   */
  nested(buf: Buffer, from: number, find: Finder): number {
    const len = buf.length;
    let i = from;
    while (i < len) {
      if (this.inString) {
        const q = this.closingQuote(buf, i, find);
        if (q < 0) return q === CONTROL ? CONTROL : len;
        this.inString = false;
        i = q + 1;
        continue;
      }
      // Between strings: usually a few bytes (":", ",", a number) before the next quote or bracket.
      let p = -1;
      const walk = Math.min(i + WALK_BYTES, len);
      for (let j = i; j < walk; j++) {
        const c = buf[j]!;
        if (c === QUOTE || c === 0x7b || c === 0x7d || c === 0x5b || c === 0x5d) {
          p = j;
          break;
        }
      }
      if (p === -1) {
        if (walk === len) return len;
        p = find.structural(walk);
        if (p === len) return len;
      }
      const b = buf[p]!;
      i = p + 1;
      if (b === QUOTE) {
        this.inString = true;
        this.escaped = false;
      } else if (b === 0x7b || b === 0x5b) {
        this.depth++;
      } else if (--this.depth === 0) {
        return i;
      }
    }
    return i;
  }
}
