/** The scheduler's contract with the admit stage (see scheduler.ts for how it decides). */
import type { Config } from "../config/types.js";
import type { ProxyError } from "../errors.js";
import type { ServerState } from "../routing/server-state.js";

/** One request asking for a slot. */
export interface Ticket {
  /** Fair-share key: the user's name. */
  readonly user: string;
  /** The user's share of a saturated fleet, > 0 (policies make it configurable; 1 by default). */
  readonly weight: number;
  /** Normalised model name (`name:tag`). */
  readonly model: string;
  /** The route's candidates, in preference order (`Route.tiers`). */
  readonly tiers: readonly (readonly ServerState[])[];
}

/** A slot on one server: forward the request there, then release it. */
export interface Grant {
  readonly server: ServerState;
  /** Time the request waited in the proxy, ms; 0 on the fast path. */
  readonly queuedMs: number;
  /** The response is over (or was never sent): frees the slot and records the GPU time used. Idempotent. */
  release(): void;
}

/**
 * A ticket in the queue. `promise` settles with a Grant or a 503 (`max_wait_seconds`, its
 * servers gone, shutdown); it never rejects. `cancel()` is for a client that left: the ticket
 * leaves the queue at once and the promise never settles; if a grant had just been made, it is
 * released (never forward a grant after cancel).
 */
export interface Waiting {
  readonly promise: Promise<Grant | ProxyError>;
  cancel(): void;
}

/** What `admit` and `retry` answer: a slot now, a refusal (503 + Retry-After) now, or a wait. */
export type Admission = Grant | ProxyError | Waiting;

/** One server as the scheduler sees it. */
export interface ServerSchedule {
  readonly key: string;
  readonly parallel: number | null;
  readonly maxLoadedModels: number | null;
  /** Requests granted here and not over. */
  readonly inFlight: number;
  /** Normalised model → requests granted here and not over (models with none are left out). */
  readonly inFlightByModel: Readonly<Record<string, number>>;
  /** Waiting tickets this server could take. */
  readonly waiting: number;
  /** Models the proxy believes the server holds. */
  readonly resident: readonly string[];
  /** Grants of a model the server did not hold. */
  readonly modelLoads: number;
}

/** Cumulative histogram of the time granted requests waited (fast-path grants count as 0). */
export interface WaitHistogram {
  /** Upper bounds, ms, ascending; the last bucket (+Inf) is `count`. */
  readonly boundsMs: readonly number[];
  /** Grants that waited at most each bound (cumulative, as Prometheus wants). */
  readonly cumulative: readonly number[];
  readonly count: number;
  readonly sumMs: number;
}

/** For /health, /metrics and `route`. */
export interface SchedulerSnapshot {
  /** Tickets waiting now. */
  readonly waiting: number;
  /** How long the oldest waiting ticket has waited, ms; 0 when none. */
  readonly oldestWaitMs: number;
  /** Normalised model → tickets waiting for it. */
  readonly waitingByModel: Readonly<Record<string, number>>;
  readonly servers: readonly ServerSchedule[];
  readonly waits: WaitHistogram;
  /** Since start: grants, and refusals by reason. */
  readonly totals: {
    readonly granted: number;
    readonly queued: number;
    readonly queueFull: number;
    readonly waitTimeouts: number;
    readonly cancelled: number;
    readonly serverGone: number;
    readonly modelLoads: number;
  };
}

/** The admit stage's engine. Pure logic over ServerState objects: no I/O, one timer at most. */
export interface Scheduler {
  /** A Grant at once when a candidate has a free slot (no promise, no timer), else a wait or a 503. */
  admit(t: Ticket): Admission;
  /**
   * Failover before the first byte: releases `g` and asks for another candidate, not one in
   * `tried`, keeping the ticket's original place in the queue.
   */
  retry(g: Grant, tried: ReadonlySet<ServerState>): Admission;
  /** The server went down: its waiting tickets go to another candidate, or get a 503. */
  serverDown(s: ServerState): void;
  /** SIGHUP: `parallel`, `max_loaded_models` and `scheduler.*` apply at once; running requests are never cut. */
  reconfigure(config: Config): void;
  /** Counters for /health, /metrics and `route`; `servers` defaults to every server it has seen. */
  snapshot(servers?: readonly ServerState[]): SchedulerSnapshot;
  /** Every waiting ticket gets a 503 (shutting down); later admits too. */
  close(): void;
}
