import type { RequestContext, ResponseObserver, Usage } from "../context.js";
import { isObject, type Json } from "../json.js";

/**
 * A line carried over from one chunk to the next is kept up to this size once the response
 * has shown itself to be a stream (an NDJSON or SSE line is a few hundred bytes).
 */
export const MAX_STREAM_LINE = 64 * 1024;
/** Before the first newline the "line" may be a whole non-streamed JSON body: kept up to this size. */
export const MAX_BODY = 256 * 1024;
/**
 * Of a line longer than its bound only the last bytes are kept: Ollama puts its counters at the
 * end of the final object (after `context`, which can run to megabytes), and embeddings bodies
 * end with them too, so they are still found by a key scan of the tail.
 */
const TAIL = 4 * 1024;
/** Error messages read from a response are cut to this length before they reach the log. */
const MAX_ERROR = 500;

const NEWLINE = 0x0a;
/** A line is parsed only when one of these occurs in it; every other chunk costs a few memchr scans. */
const MARKERS = [
  '"done":true',
  '"done": true',
  'eval_count"',
  '"usage"',
  '"error"',
  '"finish_reason":"',
  '"finish_reason": "',
].map((m) => Buffer.from(m));
const DATA = Buffer.from("data:");

/**
 * The usage tap: a `ResponseObserver` that the forwarder calls with every response chunk on
 * its own data path (the forwarder writes the bytes on, untouched, itself). It is an observer
 * rather than a Transform in the pipeline on purpose: a Transform would add a stream hop per
 * chunk, and inside `stream.pipeline` the forwarder could no longer end a stream cut short
 * with an in-band `{"error"}` line. The tap never holds a stream: it keeps only the trailing
 * partial line (bounded), and reads token counts, Ollama's durations and the done reason from
 * Ollama's final NDJSON chunk, a non-streamed JSON body, OpenAI's `usage` (SSE chunk or
 * body) or Anthropic's (message_start, message_delta, body), plus an in-band error, into
 * `ctx.usage` / `ctx.errorCode` / `ctx.errorMessage`.
 */
export class UsageTap implements ResponseObserver {
  private readonly ctx: RequestContext;
  /** Pieces of the line not yet ended by a newline. */
  private carry: Buffer[] = [];
  private carried = 0;
  /** The carried line outgrew its bound: only its last TAIL bytes are kept. */
  private overflowed = false;
  private sawNewline = false;
  private ended = false;
  /** Lines seen so far: more than one means the response was streamed. */
  lines = 0;

  constructor(ctx: RequestContext) {
    this.ctx = ctx;
  }

  chunk(data: Buffer): void {
    if (this.ended) return;
    let start = 0;
    for (;;) {
      const nl = data.indexOf(NEWLINE, start);
      if (nl === -1) break;
      this.sawNewline = true;
      const piece = data.subarray(start, nl);
      if (this.carried === 0 && !this.overflowed) {
        this.line(piece, false);
      } else {
        this.append(piece);
        this.line(this.takeCarry(), this.overflowed);
        this.overflowed = false;
      }
      start = nl + 1;
    }
    if (start < data.length) this.append(data.subarray(start));
  }

  end(_error: string | null): void {
    if (this.ended) return;
    this.ended = true;
    // The last line has no newline when the body is one JSON document (stream: false).
    if (this.carried > 0) this.line(this.takeCarry(), this.overflowed, true);
    this.carry = [];
  }

  /** Keeps `piece` as part of the current line, copying it (the chunk it came from is let go). */
  private append(piece: Buffer): void {
    if (piece.length === 0) return;
    const bound = this.sawNewline ? MAX_STREAM_LINE : MAX_BODY;
    if (!this.overflowed && this.carried + piece.length <= bound) {
      this.carry.push(Buffer.from(piece));
      this.carried += piece.length;
      return;
    }
    // Too long a line: give up on parsing it whole and keep only its tail.
    this.overflowed = true;
    const joined = Buffer.concat([...this.carry, piece]);
    const tail = Buffer.from(joined.subarray(Math.max(0, joined.length - TAIL)));
    this.carry = [tail];
    this.carried = tail.length;
  }

  /** Bytes held right now (the carried partial line); bounded by MAX_BODY. */
  bytesHeld(): number {
    return this.carried;
  }

  private takeCarry(): Buffer {
    const line = this.carry.length === 1 ? this.carry[0]! : Buffer.concat(this.carry);
    this.carry = [];
    this.carried = 0;
    return line;
  }

  /** One complete line (or the whole body, `last`); `truncated` when only its tail is left. */
  private line(raw: Buffer, truncated: boolean, last = false): void {
    this.lines++;
    let body = raw;
    if (body.length > 0 && body[body.length - 1] === 0x0d) body = body.subarray(0, body.length - 1);
    const sse = body.subarray(0, DATA.length).equals(DATA);
    if (sse) body = body.subarray(DATA.length);
    if (truncated) {
      this.scanTail(body.toString("utf8"));
      return;
    }
    // A stream's content lines are skipped unseen; the last line of a body is always read.
    if (!(last && !sse) && !MARKERS.some((m) => body.includes(m))) return;
    const text = body.toString("utf8").trim();
    if (text === "" || text[0] !== "{") return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return;
    }
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) {
      this.read(parsed as Record<string, unknown>);
    }
  }

  /** Reads what one JSON object (an NDJSON line, an SSE data payload, a body) says. */
  private read(o: Record<string, unknown>): void {
    const error = errorText(o.error);
    if (error !== null) {
      if (this.ctx.errorCode === null) {
        this.ctx.errorCode = "upstream_error";
        this.ctx.errorMessage = error;
      }
      return;
    }
    const u: Partial<Usage> = {};
    // Ollama: the final chunk (done: true), a non-streamed body, /api/embed.
    if (o.done === true || "prompt_eval_count" in o || "eval_count" in o) {
      // Ollama omits zero counters (omitempty): in a final chunk a missing count is a zero.
      const none = o.done === true ? 0 : null;
      u.promptTokens = count(o.prompt_eval_count) ?? none;
      u.completionTokens = count(o.eval_count) ?? none;
      u.evalDurationNs = count(o.eval_duration);
      u.loadDurationNs = count(o.load_duration);
      u.totalDurationNs = count(o.total_duration);
      if (typeof o.done_reason === "string") u.doneReason = o.done_reason;
    }
    // OpenAI: `usage` in the body or in the last SSE chunk, `finish_reason` in a choice.
    // Anthropic (/v1/messages): `usage` in the body and in message_delta (output tokens; from
    // Ollama the final input count too), `message.usage` in message_start (input tokens).
    const usage = isObject(o.usage) ? o.usage : o.type === "message_start" ? messageUsage(o.message) : null;
    if (usage !== null) {
      u.promptTokens = count(usage.prompt_tokens) ?? inputTokens(usage);
      u.completionTokens = count(usage.completion_tokens) ?? count(usage.output_tokens);
    }
    const stop = o.type === "message_delta" && isObject(o.delta) ? o.delta.stop_reason : o.stop_reason;
    if (typeof stop === "string") u.doneReason = stop;
    if (Array.isArray(o.choices)) {
      for (const c of o.choices) {
        const reason = (c as { finish_reason?: unknown } | null)?.finish_reason;
        if (typeof reason === "string") u.doneReason = reason;
      }
    }
    this.merge(u);
  }

  /**
   * A key scan of the tail of an over-long line. It cannot be fooled by text inside a string:
   * there every quote is escaped, so `"eval_count":` only ever matches a key.
   */
  private scanTail(text: string): void {
    const num = (key: string) => {
      const m = new RegExp(`"${key}"\\s*:\\s*(\\d+)`).exec(text);
      return m ? Number(m[1]) : undefined;
    };
    const u: Partial<Usage> = {};
    const set = <K extends keyof Usage>(k: K, v: Usage[K] | undefined) => {
      if (v !== undefined) u[k] = v;
    };
    set("promptTokens", num("prompt_eval_count") ?? num("prompt_tokens"));
    set("completionTokens", num("eval_count") ?? num("completion_tokens"));
    set("evalDurationNs", num("eval_duration"));
    set("loadDurationNs", num("load_duration"));
    set("totalDurationNs", num("total_duration"));
    const reason = /"(?:done_reason|finish_reason)"\s*:\s*"([^"\\]{1,64})"/.exec(text);
    if (reason) u.doneReason = reason[1]!;
    this.merge(u);
  }

  /** Reported values win over earlier ones; what a line does not report stays as it was. */
  private merge(u: Partial<Usage>): void {
    const keys = Object.keys(u) as (keyof Usage)[];
    if (keys.length === 0) return;
    const current: Usage = this.ctx.usage ?? {
      promptTokens: null,
      completionTokens: null,
      evalDurationNs: null,
      loadDurationNs: null,
      totalDurationNs: null,
      doneReason: null,
    };
    const next = { ...current };
    for (const k of keys) {
      const v = u[k];
      if (v !== null && v !== undefined) (next as Record<string, unknown>)[k] = v;
    }
    this.ctx.usage = next;
  }
}

function messageUsage(message: unknown): Json | null {
  return isObject(message) && isObject(message.usage) ? message.usage : null;
}

/** Anthropic's prompt size: its input tokens plus the ones it counts apart as cache writes and reads. */
function inputTokens(usage: Json): number | null {
  const base = count(usage.input_tokens);
  if (base === null) return null;
  return base + (count(usage.cache_creation_input_tokens) ?? 0) + (count(usage.cache_read_input_tokens) ?? 0);
}

/** A non-negative integer, or null. */
function count(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.round(v) : null;
}

/** Ollama's `"error": "text"` or OpenAI's `"error": {"message": ...}`, cut to a bounded length. */
function errorText(e: unknown): string | null {
  let text: string | null = null;
  if (typeof e === "string") text = e;
  else if (e !== null && typeof e === "object") {
    const m = (e as { message?: unknown }).message;
    text = typeof m === "string" ? m : JSON.stringify(e);
  }
  if (text === null) return null;
  return text.length > MAX_ERROR ? `${text.slice(0, MAX_ERROR)}…` : text;
}
