const SECONDS = 60;

/**
 * Requests in the last minute, as a sliding window of 60 one-second buckets: a request counts
 * from its arrival until the same second of the next minute begins. Fixed memory per user (one
 * Uint32Array, allocated once), no allocation per request, and the exact figures OpenAI's
 * `x-ratelimit-*` headers and `users show` report. A clock that steps back counts into the
 * newest bucket rather than corrupting older ones.
 */
export class MinuteWindow {
  readonly #counts = new Uint32Array(SECONDS);
  #total = 0;
  /** Epoch second of the newest bucket. */
  #head = 0;

  /** Requests counted in the minute up to `now` (epoch ms). */
  count(now: number): number {
    this.#advance(Math.floor(now / 1000));
    return this.#total;
  }

  /** Counts one request at `now`. */
  add(now: number): void {
    this.#advance(Math.floor(now / 1000));
    this.#counts[this.#head % SECONDS]!++;
    this.#total++;
  }

  /** Milliseconds until fewer than `limit` requests are counted (0 when that is already so). */
  msUntilBelow(limit: number, now: number): number {
    let total = this.count(now);
    if (total < limit) return 0;
    for (let s = this.#head - SECONDS + 1; s <= this.#head; s++) {
      total -= this.#counts[s % SECONDS]!;
      if (total < limit) return Math.max(0, (s + SECONDS) * 1000 - now);
    }
    return Math.max(0, (this.#head + SECONDS) * 1000 - now);
  }

  /** Milliseconds until no request is counted: when the window is back to its initial state. */
  msUntilEmpty(now: number): number {
    this.count(now);
    for (let s = this.#head; s > this.#head - SECONDS; s--) {
      if (this.#counts[s % SECONDS]! > 0) return Math.max(0, (s + SECONDS) * 1000 - now);
    }
    return 0;
  }

  #advance(second: number): void {
    if (second <= this.#head) return;
    const steps = Math.min(second - this.#head, SECONDS);
    for (let i = 1; i <= steps; i++) {
      const idx = (this.#head + i) % SECONDS;
      this.#total -= this.#counts[idx]!;
      this.#counts[idx] = 0;
    }
    this.#head = second;
  }
}
