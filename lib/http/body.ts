import type { IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import { ProxyError } from "../errors.js";

/**
 * What the peek stage read: the model, and the body — either read to its end and kept (small
 * enough to replay on another server after a refused connection), or left in the request
 * stream, which then carries it from its first byte (the bytes peek read were put back).
 */
export type PeekedBody =
  | {
      readonly kind: "whole";
      readonly model: string;
      readonly chunks: readonly Buffer[];
      readonly bytes: number;
    }
  | {
      readonly kind: "flowing";
      readonly model: string;
      /** The client's Content-Length, or null for a chunked upload (counted as it flows). */
      readonly declared: number | null;
      /** Looks at the rest of the body as it passes (from its first byte), for what peek could not see yet. */
      readonly check: BodyCheck;
    };

/** A look at a flowing body's bytes as they pass: an error message refuses the body (400). */
export interface BodyCheck {
  push(chunk: Buffer): string | null;
  /** The body has ended. */
  end(): string | null;
}

/** The 413 for a request body over `limits.max_body_mb`. */
export function bodyTooLarge(maxBytes: number): ProxyError {
  return new ProxyError("body_too_large", `request body is larger than ${maxBytes / 1048576} MB`, {
    headers: { connection: "close" },
  });
}

/** What a bounded read answers when the stream is too long or breaks. */
export interface ReadBounds {
  readonly max: number;
  tooLarge(): ProxyError;
  broken(err: Error): ProxyError;
}

/** Bounds for a client's request body: 413 past `max`, 400 when the upload breaks. */
export function requestBounds(max: number): ReadBounds {
  return {
    max,
    tooLarge: () => bodyTooLarge(max),
    broken: (err) => new ProxyError("bad_request", `request body: ${err.message}`),
  };
}

/**
 * Reads a stream to its end, keeping at most `bounds.max` bytes: the whole body, or the error
 * `bounds` makes. Past the bound the stream is paused, not destroyed, so that a client's
 * connection can still carry the answer that says why.
 */
export function readBounded(stream: Readable, bounds: ReadBounds): Promise<Buffer | ProxyError> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const done = (value: Buffer | ProxyError) => {
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("error", onError);
      stream.off("close", onClose);
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > bounds.max) {
        stream.pause();
        done(bounds.tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => done(Buffer.concat(chunks, bytes));
    const onError = (err: Error) => done(bounds.broken(err));
    const onClose = () => done(bounds.broken(new Error("the connection closed before the body ended")));
    stream.on("data", onData);
    stream.once("end", onEnd);
    stream.once("error", onError);
    stream.once("close", onClose);
    // A stage before may have paused it (peek does, after putting back what it read).
    stream.resume();
  });
}

/**
 * The whole request body, whatever peek kept of it: the kept bytes, or the flowing stream
 * read to its end within `max` bytes and checked like the part peek saw (a second model key
 * after the first megabyte is refused as it would have been before it).
 */
export async function wholeBody(req: Readable, body: PeekedBody, max: number): Promise<Buffer | ProxyError> {
  if (body.kind === "whole") return Buffer.concat(body.chunks, body.bytes);
  const raw = await readBounded(req, requestBounds(max));
  if (raw instanceof ProxyError) return raw;
  const refused = body.check.push(raw) ?? body.check.end();
  return refused === null ? raw : new ProxyError("bad_request", refused);
}

/** Whether the request carries a body: a length other than 0, or a chunked one. */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}
