import type { LimitsConfig } from "../config/types.js";
import type { Logger } from "../log/app-log.js";
import type { Fleet } from "../routing/fleet.js";
import type { Scheduler } from "../schedule/types.js";
import { Flight, type FlightEnv, type OllamaRequest } from "./flight.js";

export type { OllamaRequest };

export interface OllamaForwarder {
  /** Sends the request to the first candidate, failing over while that is still invisible to the client. */
  forward(request: OllamaRequest): void;
}

/**
 * The forward stage for Ollama servers: each request is a flight (lib/forward/flight.ts) that
 * sends it over the chosen backend's keep-alive agent, streams the answer back as it comes,
 * lets the usage tap see each chunk, tears both directions down together and ends a stream cut
 * short with an in-band error.
 */
export function createOllamaForwarder(
  fleet: Fleet,
  limits: () => LimitsConfig,
  log: Logger,
  scheduler: Scheduler | null,
  /** A request moved from one server to the next (counted by /metrics). */
  onFailover: (from: string, to: string) => void = () => {},
): OllamaForwarder {
  const env: FlightEnv = { scheduler, fleet, limits, log, onFailover };
  return {
    forward(r) {
      new Flight(r, env).start();
    },
  };
}
