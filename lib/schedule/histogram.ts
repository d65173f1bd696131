import type { WaitHistogram } from "./types.js";

/** Bucket bounds of the queue-time histogram, ms: from "went straight through" to max_wait's default. */
const BOUNDS_MS = [0, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 120_000, 300_000];

/**
 * Time granted requests waited. Fast-path grants are only counted (one increment); the
 * buckets are filled for the ones that waited.
 */
export class WaitTimes {
  private readonly counts = new Array<number>(BOUNDS_MS.length + 1).fill(0);
  private immediate = 0;
  private waited = 0;
  private sumMs = 0;

  /** A grant that did not wait. */
  straight(): void {
    this.immediate++;
  }

  /** A grant after waiting `ms`. */
  record(ms: number): void {
    let i = 0;
    while (i < BOUNDS_MS.length && ms > BOUNDS_MS[i]!) i++;
    this.counts[i]!++;
    this.waited++;
    this.sumMs += ms;
  }

  /** Grants that waited (fast path excluded). */
  get queued(): number {
    return this.waited;
  }

  snapshot(): WaitHistogram {
    const cumulative: number[] = [];
    let running = this.immediate;
    for (let i = 0; i < BOUNDS_MS.length; i++) {
      running += this.counts[i]!;
      cumulative.push(running);
    }
    return { boundsMs: BOUNDS_MS, cumulative, count: this.immediate + this.waited, sumMs: this.sumMs };
  }
}
