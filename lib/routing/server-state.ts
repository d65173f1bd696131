import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { ServerConfig } from "../config/types.js";

/** One model as a server's /api/tags lists it (the fields we route on; the raw entry is kept for listings). */
export interface TagEntry {
  readonly name: string;
  readonly size: number;
  readonly digest: string;
  readonly raw: Readonly<Record<string, unknown>>;
}

/** One loaded model from /api/ps. */
export interface PsEntry {
  readonly name: string;
  readonly sizeVram: number;
  readonly raw: Readonly<Record<string, unknown>>;
}

export type Health = "unknown" | "up" | "down";

/**
 * What the scheduler (lib/schedule) keeps for one model on one server: the slots it granted and
 * whether the server holds the model, as far as the proxy can tell (from /api/ps and from what
 * it sent there itself).
 */
export interface ModelSlot {
  readonly model: string;
  /** Requests for this model granted here and not over yet. */
  inFlight: number;
  /** The server holds the model: a request for it needs no load. */
  resident: boolean;
  /** Scheduler clock (ms) of the last grant here; -Infinity when only /api/ps told of the model. */
  lastSentAt: number;
  /** Scheduler clock (ms) when the proxy made the server load it; -Infinity when it was loaded already. */
  residentSince: number;
  /** Scheduler clock (ms) when its last request here ended; -Infinity when none did. */
  idleSince: number;
}

/**
 * The live, mutable state of one Ollama backend: what the pollers learned and what requests
 * are doing to it. Only the pollers and the forwarder write it; the routing table reads it.
 */
export class ServerState {
  config: ServerConfig;
  readonly agent: HttpAgent;
  /** The origin, parsed once (the forwarder reads it on every request). */
  readonly target: URL;
  /** The host to connect to: `target.hostname` without an IPv6 address's brackets. */
  readonly hostname: string;
  health: Health = "unknown";
  /** Why it is down (last poll or request error), for /health and `route`. */
  downReason: string | null = null;
  consecutiveFailures = 0;
  consecutiveSuccesses = 0;
  /** Moving average of /api/version round trips, ms; null before the first answer. */
  latencyMs: number | null = null;
  version: string | null = null;
  /** Normalised name → tag entry; empty until the first /api/tags answer. */
  models: ReadonlyMap<string, TagEntry> = new Map();
  /** When `models` was last refreshed (epoch ms); 0 = not known (never read, or forgotten as stale). */
  modelsAt = 0;
  /** Normalised name → loaded model. */
  loaded: ReadonlyMap<string, PsEntry> = new Map();
  lastPollAt = 0;
  /** Requests being forwarded to it right now (the request path's only write). */
  inFlight = 0;
  /** Requests the scheduler granted here and that are not over (lib/schedule). */
  granted = 0;
  /** Normalised model name → the scheduler's slots for it here (lib/schedule/residency.ts). */
  readonly slots = new Map<string, ModelSlot>();
  /** Grants of a model the server did not hold: the model loads the proxy caused. */
  modelLoads = 0;
  /** The /api/ps answer `slots` was last reconciled with. */
  slotsSyncedWith: ReadonlyMap<string, PsEntry> | null = null;

  constructor(config: ServerConfig) {
    this.config = config;
    this.target = new URL(config.origin);
    const h = this.target.hostname;
    this.hostname = h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h;
    // One keep-alive pool per backend. Streams hold a socket for minutes, so the pool is not
    // capped; idle sockets are kept so that bursts do not pay for new connections.
    const opts = {
      keepAlive: true,
      maxSockets: Number.POSITIVE_INFINITY,
      maxFreeSockets: 256,
      scheduling: "lifo",
    } as const;
    this.agent = config.protocol === "https" ? new HttpsAgent(opts) : new HttpAgent(opts);
  }

  get key(): string {
    return this.config.key;
  }

  /** Usable for new requests: enabled and not known to be down (unknown counts as usable until the first poll). */
  get usable(): boolean {
    return this.config.enabled && this.health !== "down";
  }

  isSlow(thresholdMs: number): boolean {
    return this.latencyMs !== null && this.latencyMs > thresholdMs;
  }
}
