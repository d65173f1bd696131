/**
 * The admit stage's engine (SPEC §10): per-model slots on each server (`servers.NAME.parallel`),
 * a bounded queue in front of them, fair share between users (fair-share.ts), model affinity
 * (residency.ts) and the choices that combine them (select.ts).
 *
 * The fast path — a candidate has a free slot — returns a Grant at once: a few counters and
 * one object, no promise, no timer. Only tickets that wait get an entry and a promise. One
 * timer at most, for the queue's next deadline (the oldest ticket's max_wait, the end of an
 * affinity hold, and a once-a-second re-check that sees servers come back up).
 */
import type { Config, SchedulerConfig } from "../config/types.js";
import type { ProxyError } from "../errors.js";
import type { ServerState } from "../routing/server-state.js";
import { type Clock, systemClock } from "./clock.js";
import { FairShare, type UserShare } from "./fair-share.js";
import { type GrantOwner, SlotGrant } from "./grant.js";
import { WaitTimes } from "./histogram.js";
import { noServer, queueFull, serversGone, shuttingDown, waitTimeout } from "./refusals.js";
import { noteGrant, noteRelease, slotOf } from "./residency.js";
import { nextFor, type Outcome, pickServer } from "./select.js";
import { describe } from "./snapshot.js";
import { OneTimer } from "./timer.js";
import type { Admission, Grant, Scheduler, SchedulerSnapshot, Ticket } from "./types.js";
import { Entry, type EntryOwner, WaitQueue } from "./wait-queue.js";

/** While tickets wait, the queue is looked at again at least this often (the pollers do not say when a server is back). */
const RECHECK_MS = 1000;

export { isGrant, isWaiting } from "./grant.js";

/** Builds the scheduler for `config`; `clock` is the system's unless a test drives time. */
export function createScheduler(config: Config, clock: Clock = systemClock): Scheduler {
  return new SlotScheduler(config, clock);
}

class SlotScheduler implements Scheduler, EntryOwner, GrantOwner {
  private cfg: SchedulerConfig;
  private readonly clock: Clock;
  private readonly fair: FairShare;
  private readonly queue = new WaitQueue();
  private readonly waits = new WaitTimes();
  /** Enabled servers of the current config: key → origin (a server whose origin changed is a new ServerState). */
  private live = new Map<string, string>();
  /** Every server granted or waited for, for `snapshot()`. */
  private readonly known = new Set<ServerState>();
  private readonly out: Outcome = { heldUntil: Number.POSITIVE_INFINITY, anyUsable: false };
  private seq = 0;
  private closed = false;
  private readonly timer: OneTimer;
  private readonly totals = { granted: 0, queueFull: 0, waitTimeouts: 0, cancelled: 0, serverGone: 0 };

  constructor(config: Config, clock: Clock) {
    this.cfg = config.scheduler;
    this.clock = clock;
    this.timer = new OneTimer(clock, () => this.onTimer());
    this.fair = new FairShare(config.scheduler.fairShareWindowSeconds);
    this.setLive(config);
  }

  /** Usable for new requests: not down, and still enabled (under the same address) in the current config. */
  private readonly usable = (s: ServerState): boolean =>
    s.health !== "down" && this.live.get(s.key) === s.config.origin;

  admit(t: Ticket): Admission {
    if (this.closed) return shuttingDown();
    const now = this.clock.now();
    const s = pickServer(t.tiers, t.model, null, now, now, this.cfg.modelAffinityMs, this.usable, this.out);
    if (s !== null) {
      this.waits.straight();
      return this.grant(t, s, null, this.seq++, now, 0, now);
    }
    return this.enqueue(t, { seq: this.seq++, admittedAt: now, queuedBefore: 0 }, null, now);
  }

  retry(g: Grant, tried: ReadonlySet<ServerState>): Admission {
    const old = g as SlotGrant;
    old.release();
    if (this.closed) return shuttingDown();
    const now = this.clock.now();
    const t = old.ticket;
    const affinityMs = this.cfg.modelAffinityMs;
    const s = pickServer(t.tiers, t.model, tried, old.admittedAt, now, affinityMs, this.usable, this.out);
    if (s !== null) return this.grant(t, s, null, old.seq, old.admittedAt, old.queuedMs, now);
    if (!this.out.anyUsable)
      return serversGone(t.model, "every other candidate is down or was already tried");
    return this.enqueue(
      t,
      { seq: old.seq, admittedAt: old.admittedAt, queuedBefore: old.queuedMs },
      tried,
      now,
    );
  }

  serverDown(s: ServerState): void {
    this.handBack(s, `server "${s.key}" went down while the request waited`);
  }

  reconfigure(config: Config): void {
    this.cfg = config.scheduler;
    this.fair.tauMs = config.scheduler.fairShareWindowSeconds * 1000;
    this.setLive(config);
    for (const s of this.known) if (!this.usable(s) && s.granted === 0) this.known.delete(s);
    // Raised limits free slots at once; lowered ones only stop new grants (nothing running is cut).
    this.handBack(null, "its servers were disabled or removed by a configuration reload");
  }

  snapshot(servers?: readonly ServerState[]): SchedulerSnapshot {
    const now = this.clock.now();
    return describe(servers ?? [...this.known], this.queue, now, this.waits, {
      granted: this.totals.granted,
      queued: this.waits.queued,
      queueFull: this.totals.queueFull,
      waitTimeouts: this.totals.waitTimeouts,
      cancelled: this.totals.cancelled,
      serverGone: this.totals.serverGone,
    });
  }

  close(): void {
    this.closed = true;
    this.timer.stop();
    for (let e = this.queue.head; e !== null; e = this.queue.head) this.refuse(e, shuttingDown());
  }

  /** Called by a grant's `release()`: frees the slot, records the GPU time, lets a waiting ticket in. */
  releaseGrant(g: SlotGrant): void {
    const now = this.clock.now();
    noteRelease(g.server, g.slot, now);
    if (g.share !== null) this.fair.stop(g.share, now);
    if (this.queue.size === 0 || this.closed || g.server.config.parallel === null) return;
    this.out.heldUntil = Number.POSITIVE_INFINITY;
    this.pump(g.server, now);
    this.arm(this.out.heldUntil, now);
  }

  /** Called by a waiting ticket's `cancel()`: its client left. */
  cancelEntry(e: Entry): void {
    if (e.state === "queued") {
      this.queue.remove(e);
      e.share.waiting--;
      e.state = "cancelled";
      this.totals.cancelled++;
      if (this.queue.size === 0) this.timer.stop();
    } else if (e.state === "granted") {
      // Granted, but the promise's reader has not run yet: the request must never be sent.
      e.grant?.release();
    }
  }

  private grant(
    t: Ticket,
    s: ServerState,
    queuedShare: UserShare | null,
    seq: number,
    admittedAt: number,
    queuedMs: number,
    now: number,
  ): SlotGrant {
    const slot = slotOf(s, t.model);
    noteGrant(s, slot, now);
    let share: UserShare | null = null;
    if (s.config.parallel !== null) {
      share = queuedShare ?? this.fair.of(t.user, t.weight, now);
      this.fair.start(share, now);
    }
    this.totals.granted++;
    this.known.add(s);
    return new SlotGrant(this, t, s, slot, share, seq, admittedAt, queuedMs);
  }

  private enqueue(
    t: Ticket,
    place: { seq: number; admittedAt: number; queuedBefore: number },
    tried: ReadonlySet<ServerState> | null,
    now: number,
  ): Admission {
    if (!this.out.anyUsable) return noServer();
    if (this.queue.size >= this.cfg.maxQueue) {
      this.totals.queueFull++;
      return queueFull(this.queue.size, this.oldestWaitMs(now));
    }
    const heldUntil = this.out.heldUntil;
    const share = this.fair.of(t.user, t.weight, now);
    share.waiting++;
    const e = new Entry(this, t, share, place, tried, now);
    this.queue.insert(e);
    for (const tier of t.tiers) for (const s of tier) this.known.add(s);
    this.arm(heldUntil, now);
    return e;
  }

  /** Fills every free slot of `s` from the queue. */
  private pump(s: ServerState, now: number): void {
    if (!this.usable(s)) return;
    for (;;) {
      const e = nextFor(s, this.queue, now, this.cfg.modelAffinityMs, this.fair, this.out);
      if (e === null) return;
      this.queue.remove(e);
      e.share.waiting--;
      const waited = now - e.enqueuedAt;
      this.waits.record(waited);
      e.granted(this.grant(e.ticket, s, e.share, e.seq, e.admittedAt, e.queuedBefore + waited, now));
    }
  }

  /** Pumps every server some waiting ticket may use. */
  private pumpAll(now: number): void {
    this.out.heldUntil = Number.POSITIVE_INFINITY;
    const servers = new Set<ServerState>();
    for (let e = this.queue.head; e !== null; e = e.next) {
      for (const tier of e.ticket.tiers) for (const s of tier) servers.add(s);
    }
    for (const s of servers) if (this.queue.size > 0) this.pump(s, now);
  }

  /**
   * Tickets left without a usable candidate (`gone` counts as unusable) get a 503; the others
   * may now fit elsewhere.
   */
  private handBack(gone: ServerState | null, why: string): void {
    const now = this.clock.now();
    for (let e = this.queue.head; e !== null; ) {
      const next = e.next;
      if (!this.hasCandidate(e, gone)) {
        this.totals.serverGone++;
        this.refuse(e, serversGone(e.ticket.model, why));
      }
      e = next;
    }
    this.pumpAll(now);
    this.arm(this.out.heldUntil, now);
  }

  private hasCandidate(e: Entry, gone: ServerState | null): boolean {
    for (const tier of e.ticket.tiers) {
      for (const s of tier) if (s !== gone && this.usable(s) && !e.tried?.has(s)) return true;
    }
    return false;
  }

  private refuse(e: Entry, err: ProxyError): void {
    this.queue.remove(e);
    e.share.waiting--;
    e.refused(err);
  }

  /** The queue's next deadline: tickets past max_wait get their 503, held ones may go now. */
  private onTimer(): void {
    const now = this.clock.now();
    const maxWaitMs = this.cfg.maxWaitSeconds * 1000;
    // The queue is in arrival order, so the tickets past max_wait are at its head.
    for (let e = this.queue.head; e !== null && now - e.admittedAt >= maxWaitMs; e = this.queue.head) {
      this.totals.waitTimeouts++;
      this.refuse(e, waitTimeout(this.cfg.maxWaitSeconds));
    }
    this.pumpAll(now);
    this.arm(this.out.heldUntil, now);
  }

  /** Makes sure the one timer fires by `at`, by the oldest ticket's deadline, and within RECHECK_MS. */
  private arm(at: number, now: number): void {
    const head = this.queue.head;
    if (head === null) {
      this.timer.stop();
      return;
    }
    this.timer.by(Math.min(at, head.admittedAt + this.cfg.maxWaitSeconds * 1000, now + RECHECK_MS), now);
  }

  private oldestWaitMs(now: number): number {
    return this.queue.head === null ? 0 : now - this.queue.head.admittedAt;
  }

  private setLive(config: Config): void {
    this.live = new Map(config.servers.filter((c) => c.enabled).map((c) => [c.key, c.origin]));
  }
}
