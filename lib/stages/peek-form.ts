import type { IncomingMessage } from "node:http";
import { ProxyError } from "../errors.js";
import { type PeekedBody, readBounded, requestBounds } from "../http/body.js";
import { formField } from "../http/form.js";
import { checkModelName } from "../model-name.js";

/**
 * The peek stage for a multipart upload (`/v1/audio/transcriptions`): the body is read whole,
 * within `maxBytes` (413 past it), and the model is the form's `field` field, as Ollama reads
 * it, checked against Ollama's model-name grammar like a JSON body's. The body is kept whole,
 * so that a refused connection can be retried on another server: an audio file is small next
 * to `limits.max_body_mb`, and a form, unlike JSON, cannot be scanned as it streams through.
 */
export async function peekForm(
  req: IncomingMessage,
  opts: { readonly field: string; readonly maxBytes: number },
): Promise<PeekedBody | ProxyError> {
  const declared = Number(req.headers["content-length"] ?? 0);
  const bounds = requestBounds(opts.maxBytes);
  if (declared > opts.maxBytes) return bounds.tooLarge();
  const body = await readBounded(req, bounds);
  if (body instanceof ProxyError) return body;
  const found = formField(body, req.headers["content-type"], opts.field);
  if (found !== null && "error" in found) return new ProxyError("bad_request", found.error);
  const checked = checkModelName(found?.value ?? "");
  if ("error" in checked) return new ProxyError("bad_request", checked.error);
  if (checked.name === "") return new ProxyError("bad_request", `${opts.field} is required`);
  return { kind: "whole", model: checked.name, chunks: [body], bytes: body.length };
}
