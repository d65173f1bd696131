/** A JSON object as parsed: keys to values of any JSON type. */
export type Json = Record<string, unknown>;

/** True for a JSON object (not an array, not null). */
export function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The value as a JSON object, or null when it is anything else. */
export function asObject(v: unknown): Json | null {
  return isObject(v) ? v : null;
}
