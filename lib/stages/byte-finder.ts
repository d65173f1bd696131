/** The bytes a JSON scan stops at. */
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
/** A chunk shorter than this is read a byte at a time: a word view of it would cost more than it saves. */
const MIN_WORDS_CHUNK = 512;

/**
 * Where the next quote, backslash, bracket or control character is in one chunk. Each is found
 * with a native search (memchr) or four bytes a step, and cached: the scan only moves forward,
 * so each is searched again only once passed, and a chunk costs a few passes at memory speed.
 */
export class Finder {
  private static readonly QUOTE = 0;
  private static readonly BACKSLASH = 1;
  private static readonly BRACKETS = [0x7b, 0x7d, 0x5b, 0x5d]; // { } [ ], in slots 2..5
  private static readonly CONTROL = 6;
  private readonly buf: Buffer;
  private readonly at = [-1, -1, -1, -1, -1, -1, -1];
  /** The chunk as 32-bit words from its first 4-byte-aligned byte (a Uint32Array needs alignment). */
  private words: Uint32Array | null = null;
  private readonly wordsFrom: number;

  constructor(buf: Buffer) {
    this.buf = buf;
    this.wordsFrom = (4 - (buf.byteOffset & 3)) & 3;
  }

  /** Index of the next quote at or after `from`, or the chunk's length. */
  quote(from: number): number {
    return this.next(Finder.QUOTE, QUOTE, from);
  }

  /** Index of the next backslash at or after `from`, or the chunk's length. */
  backslash(from: number): number {
    return this.next(Finder.BACKSLASH, BACKSLASH, from);
  }

  /** Index of `byte` (cached in `slot`) at or after `from`, or the chunk's length. */
  private next(slot: number, byte: number, from: number): number {
    const cached = this.at[slot]!;
    if (cached >= from) return cached;
    const found = this.buf.indexOf(byte, from);
    const at = found === -1 ? this.buf.length : found;
    this.at[slot] = at;
    return at;
  }

  /** The next quote or bracket: what changes the depth inside a nested value. */
  structural(from: number): number {
    let min = this.quote(from);
    for (let k = 0; k < 4; k++) {
      const at = this.next(2 + k, Finder.BRACKETS[k]!, from);
      if (at < min) min = at;
    }
    return min;
  }

  /** Index of the first quote, backslash or control byte in [from, to), or -1: a word a step. */
  stringStop(from: number, to: number): number {
    const buf = this.buf;
    let i = from;
    // Most strings are short (keys, roles, words): bytes first, then words to a boundary.
    const bytes = Math.min(to, from + 16);
    for (; i < bytes || (i < to && ((i - this.wordsFrom) & 3) !== 0); i++) {
      const c = buf[i]!;
      if (c === QUOTE || c === BACKSLASH || c < 0x20) return i;
    }
    if (i < to && this.buf.length >= MIN_WORDS_CHUNK) {
      const words = this.wordView();
      let w = (i - this.wordsFrom) >> 2;
      const last = (to - this.wordsFrom) >> 2;
      // Per word: a byte equal to '"' or '\\' (a zero byte after XOR), or below 0x20.
      for (; w < last; w++) {
        const x = words[w]!;
        const q = x ^ 0x22222222;
        const b = x ^ 0x5c5c5c5c;
        if ((((q - 0x01010101) & ~q) | ((b - 0x01010101) & ~b) | ((x - 0x20202020) & ~x)) & 0x80808080) break;
      }
      i = this.wordsFrom + w * 4;
    }
    for (; i < to; i++) {
      const c = buf[i]!;
      if (c === QUOTE || c === BACKSLASH || c < 0x20) return i;
    }
    return -1;
  }

  /** Index of the next byte below 0x20 at or after `from`, or the chunk's length. */
  control(from: number): number {
    const cached = this.at[Finder.CONTROL]!;
    if (cached >= from) return cached;
    const at = this.firstControl(from);
    this.at[Finder.CONTROL] = at;
    return at;
  }

  private firstControl(from: number): number {
    const buf = this.buf;
    const end = buf.length;
    let i = from;
    for (; i < end && ((i - this.wordsFrom) & 3) !== 0; i++) if (buf[i]! < 0x20) return i;
    if (i < end && buf.length >= MIN_WORDS_CHUNK) {
      const words = this.wordView();
      let w = (i - this.wordsFrom) >> 2;
      // Four words a step; the bytes then say which one it was.
      for (; w + 3 < words.length; w += 4) {
        const a = words[w]!;
        const b = words[w + 1]!;
        const c = words[w + 2]!;
        const d = words[w + 3]!;
        const below = ((a - 0x20202020) & ~a) | ((b - 0x20202020) & ~b) | ((c - 0x20202020) & ~c);
        if ((below | ((d - 0x20202020) & ~d)) & 0x80808080) break;
      }
      i = this.wordsFrom + w * 4;
    }
    for (; i < end; i++) if (buf[i]! < 0x20) return i;
    return end;
  }

  /**
   * The chunk as 32-bit words from its first 4-byte-aligned byte (a Uint32Array needs that
   * alignment). A word holds a byte below n (n <= 0x80) when (x - n * 0x01010101) & ~x &
   * 0x80808080 is not 0 ("hasless", Bit Twiddling Hacks); a byte equal to c is a zero byte of
   * x ^ (c * 0x01010101). Only whether a word holds one counts; the bytes then say where.
   */
  private wordView(): Uint32Array {
    if (this.words === null) {
      const buf = this.buf;
      const count = Math.max(0, buf.length - this.wordsFrom) >>> 2;
      this.words = new Uint32Array(buf.buffer, buf.byteOffset + this.wordsFrom, count);
    }
    return this.words;
  }
}
