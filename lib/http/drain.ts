/**
 * The requests a server is answering, and the wait for them when it stops: while draining,
 * the server still listens (so /health says 503 and new requests get a clear refusal) and
 * the running requests get up to a grace period to finish.
 */
export interface Drain {
  started(): void;
  ended(): void;
  active(): number;
  draining(): boolean;
  /** From now on draining() is true; resolves when no request runs any more, or after graceMs. */
  finish(graceMs: number): Promise<void>;
}

export function createDrain(): Drain {
  let active = 0;
  let draining = false;
  let drained: (() => void) | null = null;
  return {
    started: () => {
      active++;
    },
    ended: () => {
      if (--active === 0) drained?.();
    },
    active: () => active,
    draining: () => draining,
    finish(graceMs) {
      draining = true;
      if (active === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    },
  };
}
