import type { Config, PolicyConfig } from "../lib/config/types.js";
import type { User } from "../lib/store/users.js";

/** A policy as the config loader builds it: no limits, every model, weight 1, unless `over` says otherwise. */
export function policyConfig(name: string, over: Partial<Omit<PolicyConfig, "name">> = {}): PolicyConfig {
  return {
    name,
    models: ["*"],
    maxConcurrent: null,
    requestsPerMinute: null,
    tokensPerDay: null,
    weight: 1,
    options: null,
    ...over,
  };
}

/** The parts of a Config the policy engine reads. */
export function configWith(
  policies: readonly PolicyConfig[] | null,
  file = "/etc/ollama-proxy/config.yml",
): Config {
  return {
    file,
    env: "production",
    policies: policies === null ? null : new Map(policies.map((p) => [p.name, p])),
  } as unknown as Config;
}

/** A user as the token check hands it on. */
export function user(name: string, policy: string | null = null): User {
  return {
    id: 1,
    name,
    role: "user",
    active: true,
    tokenPrefix: "olp_xxxxxxxx",
    expiresAt: null,
    createdAt: 0,
    lastUsedAt: null,
    policy,
  };
}

/** 2025-03-14 12:00:00 UTC: a fixed clock for tests that count by the minute and the day. */
export const NOON = Date.UTC(2025, 2, 14, 12, 0, 0);
