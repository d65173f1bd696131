/**
 * Normalises a model name the way Ollama resolves it, so that `llama3`, `Llama3` and
 * `llama3:latest` are one model: the tag defaults to `latest` (a `:` after the last `/`
 * is the tag; one before it is a registry port), and names compare case-insensitively.
 */
export function normalizeModel(name: string): string {
  const lower = name.trim().toLowerCase();
  const slash = lower.lastIndexOf("/");
  return lower.indexOf(":", slash + 1) === -1 ? `${lower}:latest` : lower;
}

/** A model name as Ollama would act on it, or why Ollama would refuse it. */
export type ModelNameCheck = { readonly name: string } | { readonly error: string };

type Part = "host" | "namespace" | "model" | "tag";

/**
 * Ollama's grammar per part (types/model/name.go): the first character a letter, a digit or
 * "_", then letters, digits and the part's punctuation, within its length. ASCII only: Go
 * compares bytes, so no other character is ever part of a valid name.
 */
const PARTS: Record<Part, { label: string; max: number; punctuation: string; allowed: string }> = {
  host: {
    label: "the host",
    max: 350,
    punctuation: "_-.:",
    allowed: 'letters, digits, "_", "-", "." and ":"',
  },
  namespace: { label: "the namespace", max: 80, punctuation: "_-", allowed: 'letters, digits, "_" and "-"' },
  model: {
    label: "the model part",
    max: 80,
    punctuation: "_-.",
    allowed: 'letters, digits, "_", "-" and "."',
  },
  tag: { label: "the tag", max: 80, punctuation: "_-.", allowed: 'letters, digits, "_", "-" and "."' },
};

/** What Go's strings.TrimSpace removes: unicode.IsSpace, which differs from JavaScript's trim(). */
const GO_SPACE = "[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const GO_TRIM = new RegExp(`^${GO_SPACE}+|${GO_SPACE}+$`, "g");
/**
 * The shape nearly every request uses — model[:tag], nothing to trim — is checked in one step;
 * with "cloud" or "local" in it, the source suffix rules need the full path.
 */
const SIMPLE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,79})?$/;
const SOURCE_WORD = /cloud|local/i;
/** RFC 3986's scheme; Ollama takes whatever stands before "://", which may be no text at all. */
const SCHEME = /^(?:[A-Za-z][A-Za-z0-9+.-]*)?$/;

/**
 * Checks a requested model name against Ollama's model-name grammar (types/model/name.go and
 * its ":cloud"/":local" source suffix, internal/modelref), so that a name Ollama would refuse —
 * control characters, spaces, anything outside [A-Za-z0-9_.:/-] — is refused here first and
 * never reaches routing, a log or a report. The name returned is the one Ollama acts on:
 * white space around it and around a source suffix trimmed as Go trims it. An empty name comes
 * back empty: the caller says which key is missing.
 */
export function checkModelName(raw: string): ModelNameCheck {
  if (SIMPLE.test(raw) && !SOURCE_WORD.test(raw)) return { name: raw };
  const name = respellSuffix(raw.replace(GO_TRIM, ""));
  if (name === "") return { name };
  const base = sourceBase(name);
  if (base === null) return invalid(raw, 'use either ":local" or ":cloud", not both');
  const problem = grammarProblem(base);
  return problem === null ? { name } : invalid(raw, problem);
}

/** "x: cloud" is Ollama's "x:cloud" (it trims the suffix): spelled so, the rest of the proxy sees a cloud model. */
function respellSuffix(name: string): string {
  const colon = name.lastIndexOf(":");
  if (colon === -1) return name;
  const suffix = name.slice(colon + 1).replace(GO_TRIM, "");
  const lower = suffix.toLowerCase();
  const isSource =
    lower === "cloud" || lower === "local" || (!suffix.includes("/") && lower.endsWith("-cloud"));
  return isSource ? `${name.slice(0, colon + 1)}${suffix}` : name;
}

/** The name without its source suffix (":cloud", ":local", a "-cloud" tag), or null for two suffixes. */
function sourceBase(name: string): string | null {
  const once = stripSource(name);
  if (once === null) return name;
  return stripSource(once) === null ? once : null;
}

function stripSource(name: string): string | null {
  const colon = name.lastIndexOf(":");
  if (colon === -1) return null;
  const suffix = name.slice(colon + 1);
  const lower = suffix.toLowerCase();
  if (lower === "cloud" || lower === "local") return name.slice(0, colon);
  if (!suffix.includes("/") && lower.endsWith("-cloud")) return name.slice(0, -"-cloud".length);
  return null;
}

/** Splits as Ollama's ParseNameBare does — [scheme://][host/][namespace/]model[:tag] — and checks each part. */
function grammarProblem(name: string): string | null {
  let rest = name;
  const parts: [Part, string][] = [];
  // A ":" after the last "/" starts the tag; one before it belongs to a registry host's port.
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    parts.push(["tag", rest.slice(colon + 1)]);
    rest = rest.slice(0, colon);
  }
  for (const part of ["model", "namespace"] as const) {
    const slash = rest.lastIndexOf("/");
    parts.push([part, rest.slice(slash + 1)]);
    if (slash === -1) return firstProblem(parts);
    rest = rest.slice(0, slash);
  }
  const sep = rest.indexOf("://");
  if (sep !== -1) {
    if (!SCHEME.test(rest.slice(0, sep)))
      return 'the scheme before "://" may contain only letters, digits, "+", "-" and "."';
    rest = rest.slice(sep + 3);
  }
  parts.push(["host", rest]);
  return firstProblem(parts);
}

function firstProblem(parts: readonly [Part, string][]): string | null {
  // Left to right, as the name reads.
  for (const [part, text] of [...parts].reverse()) {
    const problem = partProblem(part, text);
    if (problem !== null) return problem;
  }
  return null;
}

function partProblem(part: Part, text: string): string | null {
  const rule = PARTS[part];
  if (text === "") return `${rule.label} is empty`;
  if (text.length > rule.max) return `${rule.label} is longer than ${rule.max} characters`;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const alnum =
      (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
    if (alnum) continue;
    if (i === 0) return `${rule.label} must start with a letter, a digit or "_", not ${describe(text, i)}`;
    if (!rule.punctuation.includes(text[i]!)) {
      return `${rule.label} may contain only ${rule.allowed}, not ${describe(text, i)}`;
    }
  }
  return null;
}

/** One character for a message: printable ASCII quoted, anything else by its code point (never raw). */
function describe(text: string, i: number): string {
  const cp = text.codePointAt(i)!;
  if (cp > 0x20 && cp < 0x7f) return `"${String.fromCodePoint(cp)}"`;
  return `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
}

function invalid(raw: string, problem: string): ModelNameCheck {
  return { error: `invalid model name ${quoteName(raw)}: ${problem}` };
}

/** The name in double quotes for a message: printable ASCII as is, anything else as a \u escape, cut at 100. */
function quoteName(raw: string): string {
  let out = "";
  for (const c of raw) {
    if (out.length >= 100) return `"${out}…"`;
    const cp = c.codePointAt(0)!;
    if (c === '"' || c === "\\") out += `\\${c}`;
    else if (cp >= 0x20 && cp < 0x7f) out += c;
    else out += cp > 0xffff ? `\\u{${cp.toString(16)}}` : `\\u${cp.toString(16).padStart(4, "0")}`;
  }
  return `"${out}"`;
}
