/**
 * Fair share between users, by recent use.
 *
 * The discipline is decayed-usage fair share: Kay & Lauder, "A Fair Share Scheduler" (CACM 31(1),
 * 1988), the rule behind Slurm's fair-share factor (PriorityDecayHalfLife) on GPU clusters, and
 * the "serve the least-served client first" rule of the Virtual Token Counter (Sheng et al.,
 * "Fairness in Serving Large Language Models", OSDI 2024) with GPU time in place of tokens. Each
 * user's use is the GPU time (slot time) its requests held, in flight ones included,
 * exponentially windowed over `fair_share_window_seconds`, divided by the user's weight; a free
 * slot goes to the waiting user with the least. Decay instead of a lifetime counter means that
 * use older than a few windows is forgotten, so nobody banks credit or debt forever.
 *
 * The windowed integral needs no history: with n requests in flight since `at`,
 *   use(now) = used·d + n·τ·(1 − d),  d = e^(−(now − at)/τ),
 * and it is folded into `used` whenever n changes. No allocation per request.
 */
export class UserShare {
  readonly user: string;
  /** The user's share (policy weight); > 0. */
  weight = 1;
  /** Grants on slot-limited servers not yet released. */
  inFlight = 0;
  /** Tickets of this user in the queue. */
  waiting = 0;
  /** Decayed GPU-ms as of `at`. */
  private used = 0;
  private at: number;
  private cachedAt = Number.NaN;
  private cached = 0;

  constructor(user: string, now: number) {
    this.user = user;
    this.at = now;
  }

  /** Decayed GPU-ms used, in flight included, as of `now`. */
  usage(now: number, tauMs: number): number {
    if (now === this.cachedAt) return this.cached;
    const d = Math.exp(-(now - this.at) / tauMs);
    this.cached = this.used * d + this.inFlight * tauMs * (1 - d);
    this.cachedAt = now;
    return this.cached;
  }

  /** What fair share compares: recent use divided by weight (lower goes first). */
  score(now: number, tauMs: number): number {
    return this.usage(now, tauMs) / this.weight;
  }

  /** A request of this user took a slot. */
  start(now: number, tauMs: number): void {
    this.fold(now, tauMs);
    this.inFlight++;
  }

  /** A request of this user gave its slot back: the time it held is now in `used`. */
  stop(now: number, tauMs: number): void {
    this.fold(now, tauMs);
    this.inFlight--;
  }

  /** Nothing in flight, nothing waiting, and use faded to under a millisecond: safe to forget. */
  idle(now: number, tauMs: number): boolean {
    return this.inFlight === 0 && this.waiting === 0 && this.usage(now, tauMs) < 1;
  }

  private fold(now: number, tauMs: number): void {
    this.used = this.usage(now, tauMs);
    this.at = now;
    // The cached value stays right: use at `now` does not depend on what happens at `now`.
  }
}

/** Every user's share, by name. Users with nothing left to remember are swept now and then. */
export class FairShare {
  private readonly users = new Map<string, UserShare>();
  private releasesSinceSweep = 0;
  tauMs: number;

  constructor(windowSeconds: number) {
    this.tauMs = windowSeconds * 1000;
  }

  /** The user's share record; `weight` is the ticket's (the latest one wins). */
  of(user: string, weight: number, now: number): UserShare {
    let share = this.users.get(user);
    if (share === undefined) {
      share = new UserShare(user, now);
      this.users.set(user, share);
    }
    share.weight = weight > 0 && Number.isFinite(weight) ? weight : 1;
    return share;
  }

  start(share: UserShare, now: number): void {
    share.start(now, this.tauMs);
  }

  stop(share: UserShare, now: number): void {
    share.stop(now, this.tauMs);
    // Bounded memory without a timer: one sweep per 1024 releases.
    if (++this.releasesSinceSweep >= 1024) this.sweep(now);
  }

  score(share: UserShare, now: number): number {
    return share.score(now, this.tauMs);
  }

  /** Forgets users whose use has faded and who have nothing in flight or waiting. */
  sweep(now: number): void {
    this.releasesSinceSweep = 0;
    for (const [name, share] of this.users) if (share.idle(now, this.tauMs)) this.users.delete(name);
  }

  get size(): number {
    return this.users.size;
  }
}
