import type { ServerResponse } from "node:http";
import type { RequestContext } from "../context.js";
import type { Telemetry } from "../observe/telemetry.js";

/**
 * The record stage: when the response is over — finished, failed, or abandoned by the client —
 * the request's context is closed and handed to telemetry (request log, metrics, the app-log
 * line). It runs whatever stage the request reached.
 */
export function recordOnClose(
  res: ServerResponse,
  ctx: RequestContext,
  telemetry: Telemetry,
  then: () => void,
): void {
  res.once("close", () => {
    ctx.tEnd ??= performance.now();
    if (ctx.status === 0) ctx.status = res.statusCode;
    if (!res.writableFinished && ctx.errorCode === null) ctx.clientAborted = true;
    telemetry.done(ctx);
    then();
  });
}
