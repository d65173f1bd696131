import { isIP } from "node:net";
import { isObject } from "../json.js";
import { DEFAULTS } from "./defaults.js";
import { isKeepAlive, POLICY_NAME, POLICY_NAME_RULE, patternProblem } from "./policy-syntax.js";

/**
 * The checks JSON Schema cannot express (a pattern that is a valid regex, an IP or CIDR
 * range, a name used twice). They run on whatever the file holds, valid or not, so that
 * their problems are reported along with the schema's.
 */
export function checkValues(section: unknown, env: string, problems: string[]): void {
  if (!isObject(section)) return;
  const mc = section["model_config"];
  const patterns = isObject(mc) ? mc["memory_patterns"] : undefined;
  if (Array.isArray(patterns)) {
    for (const [i, p] of patterns.entries()) {
      const source = isObject(p) ? p["pattern"] : undefined;
      if (typeof source !== "string") continue;
      try {
        new RegExp(source, "i");
      } catch (err) {
        problems.push(`${env}.model_config.memory_patterns.${i}.pattern: ${(err as Error).message}`);
      }
    }
  }

  const trusted = section["trusted_proxies"];
  if (Array.isArray(trusted)) {
    for (const [i, entry] of trusted.entries()) {
      if (typeof entry !== "string") continue;
      const [addr, bits, extra] = entry.split("/");
      const family = isIP(addr ?? "");
      const max = family === 6 ? 128 : 32;
      if (
        family === 0 ||
        extra !== undefined ||
        (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= max))
      ) {
        problems.push(`${env}.trusted_proxies.${i}: must be an IP address or CIDR range`);
      }
    }
  }

  checkPolicies(section["policies"], env, problems);

  // Node refuses to create a server whose header deadline outlasts its whole-request deadline
  // (ERR_OUT_OF_RANGE at start): say so here, by key, instead of a stack trace at `serve`.
  const limits = isObject(section["limits"]) ? section["limits"] : {};
  const headersMs = limits["headers_timeout_ms"] ?? DEFAULTS.limits.headers_timeout_ms;
  const requestMs = limits["request_timeout_ms"] ?? DEFAULTS.limits.request_timeout_ms;
  if (
    typeof headersMs === "number" &&
    typeof requestMs === "number" &&
    requestMs > 0 &&
    headersMs > requestMs
  ) {
    problems.push(
      `${env}.limits.request_timeout_ms: ${requestMs} is shorter than limits.headers_timeout_ms (${headersMs}); a request cannot end before its headers do (0 turns the request deadline off)`,
    );
  }

  // Servers and external hosts are named by key and by `name`: each label must be one target's.
  const seen = new Map<string, string>();
  for (const group of ["servers", "external_hosts"]) {
    const targets = section[group];
    if (!isObject(targets)) continue;
    for (const [key, t] of Object.entries(targets)) {
      const name = isObject(t) && typeof t["name"] === "string" ? t["name"] : key;
      // Qualified, so that a server and an external host under the same key also collide.
      const id = `${group}.${key}`;
      for (const label of new Set([key, name])) {
        const other = seen.get(label);
        if (other !== undefined && other !== id) {
          problems.push(`${env}: the name "${label}" is used by both ${other} and ${id}`);
        }
        seen.set(label, id);
      }
    }
  }
}

/** Policy names, model patterns and keep_alive values: what the schema cannot say. */
function checkPolicies(policies: unknown, env: string, problems: string[]): void {
  if (!isObject(policies)) return;
  for (const [name, p] of Object.entries(policies)) {
    const path = `${env}.policies.${name}`;
    if (!POLICY_NAME.test(name)) problems.push(`${path}: invalid policy name: ${POLICY_NAME_RULE}`);
    if (!isObject(p)) continue;
    const models = p["models"];
    if (Array.isArray(models)) {
      for (const [i, pattern] of models.entries()) {
        const problem = typeof pattern === "string" ? patternProblem(pattern) : null;
        if (problem !== null) problems.push(`${path}.models.${i}: ${problem}`);
      }
    }
    const options = p["options"];
    const keepAlive = isObject(options) ? options["keep_alive"] : undefined;
    if (keepAlive !== undefined && keepAlive !== null && !isKeepAlive(keepAlive)) {
      problems.push(
        `${path}.options.keep_alive: ${JSON.stringify(keepAlive)} is not a duration Ollama accepts (like "5m", "1h30m", 0, or -1 for forever)`,
      );
    }
  }
}
