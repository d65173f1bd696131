/**
 * Time as the scheduler sees it. Injected so that tests drive waits, deadlines and decay by
 * construction, without sleeping.
 */
export interface Clock {
  /** Milliseconds on a monotonic clock (only differences matter). */
  now(): number;
  /** Calls `fn` once, `ms` from now; the returned function cancels that call. */
  after(ms: number, fn: () => void): () => void;
}

/** The process's monotonic clock and real timers; a pending timer never keeps the process alive. */
export const systemClock: Clock = {
  now: () => performance.now(),
  after(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return () => clearTimeout(t);
  },
};
