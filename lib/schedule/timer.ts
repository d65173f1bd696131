import type { Clock } from "./clock.js";

/**
 * The scheduler's one timer. It is only re-armed when an earlier deadline comes up, so a
 * queue of any length costs one pending timer, and the fast path none.
 */
export class OneTimer {
  private readonly clock: Clock;
  private readonly fire: () => void;
  private at = Number.POSITIVE_INFINITY;
  private cancel: (() => void) | null = null;

  constructor(clock: Clock, fire: () => void) {
    this.clock = clock;
    this.fire = fire;
  }

  /** Makes sure the timer fires by `due` (clock ms). */
  by(due: number, now: number): void {
    if (this.cancel !== null && this.at <= due) return;
    this.stop();
    this.at = due;
    this.cancel = this.clock.after(Math.max(0, due - now), () => {
      this.cancel = null;
      this.at = Number.POSITIVE_INFINITY;
      this.fire();
    });
  }

  stop(): void {
    this.cancel?.();
    this.cancel = null;
    this.at = Number.POSITIVE_INFINITY;
  }
}
