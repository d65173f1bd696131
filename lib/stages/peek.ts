import type { IncomingMessage } from "node:http";
import { ProxyError } from "../errors.js";
import { type BodyCheck, bodyTooLarge, type PeekedBody } from "../http/body.js";
import { ModelScanner } from "./model-scanner.js";

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
      const r = scanner.push(chunk);
      if (r.kind === "reading") return;
      if (r.kind === "refused") {
        req.pause();
        finish(new ProxyError("bad_request", r.error));
      } else if (bytes > keepUpTo) {
        req.pause();
        // Too big to keep for a retry. The bytes read so far go back to the front of the
        // stream, so that whoever forwards req sends the body whole from its first byte.
        for (let i = chunks.length - 1; i >= 0; i--) req.unshift(chunks[i]!);
        finish({ kind: "flowing", model: r.model, declared, check: restOf(scanner, bytes) });
      }
    };
    const onEnd = () => {
      const r = scanner.finish();
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

/**
 * The rest of a flowing body goes through the same scanner as it passes (a second key naming
 * the model may come after the first megabyte). The stream carries the body from its first
 * byte again, so the `seen` bytes the scanner already had are skipped.
 */
function restOf(scanner: ModelScanner, seen: number): BodyCheck {
  let skip = seen;
  return {
    push(chunk) {
      let rest = chunk;
      if (skip > 0) {
        if (rest.length <= skip) {
          skip -= rest.length;
          return null;
        }
        rest = rest.subarray(skip);
        skip = 0;
      }
      const r = scanner.push(rest);
      return r.kind === "refused" ? r.error : null;
    },
    end() {
      const r = scanner.finish();
      return "error" in r ? r.error : null;
    },
  };
}
