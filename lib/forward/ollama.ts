import type { ClientRequest, IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { createProxyServer, type ProxyServer } from "http-proxy-3";
import type { LimitsConfig } from "../config/types.js";
import type { Logger } from "../log/app-log.js";
import type { Fleet } from "../routing/fleet.js";
import type { Scheduler } from "../schedule/types.js";
import { Flight, type FlightEnv, type OllamaRequest } from "./flight.js";

export type { OllamaRequest };

export interface OllamaForwarder {
  /** Sends the request to the first candidate, failing over while that is still invisible to the client. */
  forward(request: OllamaRequest): void;
  close(): void;
}

/**
 * The forward stage for Ollama servers: http-proxy-3 over each backend's keep-alive agent, with
 * the response handled here (`selfHandleResponse`) so that both directions are torn down
 * together, the usage tap sees each chunk, and a stream cut short ends with an in-band error.
 * http-proxy-3 is used through its public options and events only; its events name the
 * client's request, which finds its flight in a WeakMap.
 */
export function createOllamaForwarder(
  fleet: Fleet,
  limits: () => LimitsConfig,
  log: Logger,
  scheduler: Scheduler | null,
  /** A request moved from one server to the next (counted by /metrics). */
  onFailover: (from: string, to: string) => void = () => {},
): OllamaForwarder {
  const proxy: ProxyServer = createProxyServer({ selfHandleResponse: true, changeOrigin: true, xfwd: false });
  const flights = new WeakMap<IncomingMessage, Flight>();
  const env: FlightEnv = { proxy, scheduler, fleet, limits, log, onFailover };
  proxy.on("proxyReq", (proxyReq: ClientRequest, req: IncomingMessage, _res, _opts, socket: Socket) =>
    flights.get(req)?.sent(proxyReq, socket),
  );
  proxy.on("proxyRes", (proxyRes: IncomingMessage, req: IncomingMessage) => {
    const f = flights.get(req);
    if (f === undefined) proxyRes.resume();
    else f.response(proxyRes);
  });
  // Errors come through each proxy.web call's callback; this keeps an unexpected one from being thrown.
  proxy.on("error", (err: Error, req: IncomingMessage) => flights.get(req)?.failed(err));
  return {
    forward(r) {
      const f = new Flight(r, env);
      flights.set(r.req, f);
      f.start();
    },
    close: () => proxy.close(),
  };
}
