import type { Usage } from "../../context.js";
import { type ErrorCode, ProxyError } from "../../errors.js";
import type { FinishReason, Piece } from "./pieces.js";

/** When the parts of an answer happened (performance.now() ms), for the durations Ollama reports. */
export interface Clock {
  /** The request arrived at the proxy. */
  readonly t0: number;
  /** The request left for the provider. */
  readonly sent: () => number | null;
}

/** A client answer being written from pieces: text to send now, and the usage it saw. */
export interface AnswerWriter {
  /** Content type of the answer. */
  readonly contentType: string;
  /** True when the answer goes out as it comes (NDJSON, SSE); false for one JSON body at the end. */
  readonly streamed: boolean;
  /** Text to send for this piece ("" when nothing goes out yet). */
  piece(p: Piece): string;
  /** The answer is complete: its last text (final chunk, or the whole body). Throws a ProxyError if the pieces cannot make an answer. */
  end(): string;
  /** The provider failed after text went out: the in-band error that ends the stream. */
  failure(message: string, code: ErrorCode): string;
  /** Token counts, finish reason and durations, for the request log. */
  usage(): Usage;
}

interface ToolCall {
  id: string | null;
  name: string;
  args: string;
}

/** What every writer keeps: tool calls being assembled, the finish reason, token counts, timings. */
export abstract class Collected {
  protected readonly clock: Clock;
  protected readonly tools = new Map<number, ToolCall>();
  protected finish: FinishReason | null = null;
  protected promptTokens: number | null = null;
  protected completionTokens: number | null = null;
  protected providerModel = "";
  protected providerId = "";
  private firstToken: number | null = null;
  private ended: number | null = null;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** Records what every piece says; true when the piece is content (text, thinking or a tool call). */
  protected take(p: Piece): boolean {
    switch (p.kind) {
      case "meta":
        if (p.model !== "") this.providerModel = p.model;
        if (p.id !== "") this.providerId = p.id;
        return false;
      case "finish":
        this.finish = p.reason;
        return false;
      case "usage":
        if (p.promptTokens !== null) this.promptTokens = p.promptTokens;
        if (p.completionTokens !== null) this.completionTokens = p.completionTokens;
        return false;
      case "tool": {
        const call = this.tools.get(p.index);
        if (call === undefined) this.tools.set(p.index, { id: p.id, name: p.name ?? "", args: p.args });
        else {
          if (p.id !== null) call.id = p.id;
          if (p.name !== null) call.name += p.name;
          call.args += p.args;
        }
        this.firstToken ??= performance.now();
        return true;
      }
      case "error":
        return false;
      default:
        this.firstToken ??= performance.now();
        return true;
    }
  }

  protected markEnd(): void {
    this.ended ??= performance.now();
  }

  /** Ollama's durations, measured at the proxy: prompt = until the first token, eval = from it to the end. */
  protected durations() {
    const end = this.ended ?? performance.now();
    const sent = this.clock.sent() ?? this.clock.t0;
    const first = this.firstToken ?? end;
    const ns = (ms: number) => Math.max(0, Math.round(ms * 1e6));
    return {
      total_duration: ns(end - this.clock.t0),
      load_duration: 0,
      prompt_eval_duration: ns(first - sent),
      eval_duration: ns(end - first),
    };
  }

  /** Finished tool calls with their arguments parsed (Ollama sends objects, not JSON text). */
  protected parsedCalls(): { id: string | null; name: string; arguments: Record<string, unknown> }[] {
    return [...this.tools.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([, c]) => {
        let args: unknown;
        try {
          args = c.args.trim() === "" ? {} : JSON.parse(c.args);
        } catch {
          throw new ProxyError(
            "upstream_bad_response",
            `the external host sent arguments for tool "${c.name}" that are not JSON`,
          );
        }
        if (typeof args !== "object" || args === null || Array.isArray(args))
          throw new ProxyError(
            "upstream_bad_response",
            `the external host sent arguments for tool "${c.name}" that are not a JSON object`,
          );
        return { id: c.id, name: c.name, arguments: args as Record<string, unknown> };
      });
  }

  usage(): Usage {
    const d = this.durations();
    return {
      promptTokens: this.promptTokens,
      completionTokens: this.completionTokens,
      evalDurationNs: d.eval_duration,
      loadDurationNs: 0,
      totalDurationNs: d.total_duration,
      doneReason: this.finish === null ? null : ollamaDoneReason(this.finish),
    };
  }
}

/** Ollama's done_reason: tool calls end a turn like a stop does; a cut-off answer is "length". */
export function ollamaDoneReason(f: FinishReason): string {
  return f === "length" ? "length" : "stop";
}
