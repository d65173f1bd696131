/**
 * What a policy's values may look like: the checks the config loader runs beyond the schema,
 * kept beside the code that reads the values so that the two cannot drift apart.
 */

/** Policy names, as the config defines them and `users ... --policy` assigns them. */
export const POLICY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The rule for a policy name, for messages. */
export const POLICY_NAME_RULE = "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit";

/** Why a `models` entry is not a pattern, or null when it is one. */
export function patternProblem(pattern: string): string | null {
  const body = pattern.startsWith("!") ? pattern.slice(1) : pattern;
  if (body === "") return `"!" must be followed by a pattern, as in "!*70b*"`;
  if (body.startsWith("!")) return `"${pattern}": one "!" excludes; two are not a pattern`;
  // Model names never hold whitespace or control characters; a pattern with one matches nothing.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\s\u0000-\u001f\u007f]/.test(body)) return `"${pattern}": a model pattern has no spaces`;
  return null;
}

// Go's time.ParseDuration, which Ollama applies to a string keep_alive: an optional sign, then
// "0" or one or more number-unit pairs ("1h30m", ".5h", "300ms").
const GO_DURATION = /^[-+]?(?:0|(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/;

/** True for a keep_alive Ollama accepts: a Go duration string, or a number of seconds (negative = forever). */
export function isKeepAlive(value: unknown): boolean {
  if (typeof value === "number") return Number.isFinite(value);
  return typeof value === "string" && GO_DURATION.test(value);
}
