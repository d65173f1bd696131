/** One server-sent event: its `event:` name (null when absent), its joined `data:` lines, and its text as received. */
export interface SseEvent {
  readonly event: string | null;
  readonly data: string;
  /** The event's lines as they arrived, with the blank line that ended it: relayed unchanged on pass-through. */
  readonly raw: string;
}

/**
 * An incremental parser for text/event-stream (WHATWG HTML, "Server-sent events", §9.2.6).
 * Bytes may arrive cut anywhere — inside a line, inside `data:`, inside a UTF-8 character —
 * so it decodes with a streaming TextDecoder and keeps only the unfinished line and the
 * unfinished event between pushes. A block of comment lines (`: keep-alive`) comes out as an
 * event with empty data — translators skip it, pass-through relays it (it keeps idle
 * connections alive). `id:` and `retry:` mean nothing to a proxy and are ignored.
 */
export class SseParser {
  private readonly decoder = new TextDecoder("utf-8");
  private line = "";
  /** The previous push ended with \r: its line is held until the next byte says whether \n follows. */
  private pendingCr = false;
  private event: string | null = null;
  private data: string[] = [];
  private raw = "";

  /** Feeds the next bytes; returns the events they completed, in order. */
  push(chunk: Uint8Array): SseEvent[] {
    return this.feed(this.decoder.decode(chunk, { stream: true }));
  }

  /** The stream ended: an event without its closing blank line is dropped, as the standard says. */
  end(): SseEvent[] {
    const out = this.feed(this.decoder.decode(), true);
    this.line = "";
    this.data = [];
    this.event = null;
    this.raw = "";
    this.pendingCr = false;
    return out;
  }

  private feed(text: string, final = false): SseEvent[] {
    const out: SseEvent[] = [];
    let i = 0;
    if (this.pendingCr && (text.length > 0 || final)) {
      // A line ended with \r at the end of the last push: whether a \n follows decides its end.
      this.pendingCr = false;
      const crlf = text.charCodeAt(0) === 0x0a;
      if (crlf) i = 1;
      const ev = this.takeLine(crlf ? "\r\n" : "\r");
      if (ev !== null) out.push(ev);
    }
    let start = i;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 0x0a && c !== 0x0d) continue;
      this.line += text.slice(start, i);
      if (c === 0x0d && i + 1 === text.length && !final) {
        this.pendingCr = true;
        return out;
      }
      const eolEnd = c === 0x0d && text.charCodeAt(i + 1) === 0x0a ? i + 2 : i + 1;
      const ev = this.takeLine(text.slice(i, eolEnd));
      if (ev !== null) out.push(ev);
      i = eolEnd - 1;
      start = eolEnd;
    }
    this.line += text.slice(start);
    return out;
  }

  /** Handles one complete line; returns an event when the line was the blank one that ends it. */
  private takeLine(eol: string): SseEvent | null {
    const line = this.line;
    this.line = "";
    this.raw += line + eol;
    if (line === "") {
      if (this.data.length === 0 && this.event === null && this.raw === eol) {
        this.raw = "";
        return null;
      }
      const ev = { event: this.event, data: this.data.join("\n"), raw: this.raw };
      this.event = null;
      this.data = [];
      this.raw = "";
      return ev;
    }
    if (line.charCodeAt(0) === 0x3a /* : */) return null;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 0x20) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    return null;
  }
}
