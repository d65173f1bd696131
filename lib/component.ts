/** Something besides the backends that can make the proxy degraded (the request log, the app log). */
export interface ComponentHealth {
  readonly name: string;
  readonly ok: boolean;
  readonly detail?: Record<string, unknown>;
}
