import type { TestContext } from "node:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { pino } from "pino";
import type { RequestContext } from "../lib/context.js";
import { REDACT_PATHS } from "../lib/log/app-log.js";
import type { Telemetry } from "../lib/observe/telemetry.js";
import { type RunningServer, startServer } from "../lib/server.js";
import { openStore } from "../lib/store/open.js";
import { startFakeAnthropic } from "./fixtures/fake-anthropic.js";
import { type FakeOllama, startFakeOllama } from "./fixtures/fake-ollama.js";
import { startFakeOpenAI } from "./fixtures/fake-openai.js";
import type { FakeProvider, ProviderBehaviour } from "./fixtures/fake-provider.js";
import { section, tempDir, writeConfig } from "./helpers.js";

export type ProviderKind = "openai" | "anthropic";

/** The model each provider kind's fake serves, assigned to it in the proxy's config. */
export const MODEL: Record<ProviderKind, string> = { openai: "gpt-4o", anthropic: "claude-sonnet-4-5" };

/** Environment variable names for the keys (read from the test's own environ, never process.env). */
export const KEY_VAR: Record<ProviderKind, string> = {
  openai: "TEST_OPENAI_KEY",
  anthropic: "TEST_ANTHROPIC_KEY",
};

export interface ExternalSetup {
  readonly url: string;
  readonly server: RunningServer;
  readonly fake: FakeProvider;
  /** The Ollama backend beside the external host (it must never see a provider key). */
  readonly ollamaBackend: FakeOllama;
  readonly model: string;
  readonly userToken: string;
  readonly ollama: Ollama;
  readonly openai: OpenAI;
  /** Every app-log line written while the proxy ran (JSON text, after redaction). */
  readonly logLines: string[];
  /** Contexts handed to telemetry.done, one per finished request. */
  readonly done: RequestContext[];
}

/**
 * A proxy on port 0 with one fake Ollama and one fake provider of `kind` (host key = kind,
 * type inferred from the name as the config allows), the model assigned to it, the provider's
 * key in the environ, an app log kept in memory and telemetry that records each request.
 */
export async function startExternal(
  t: TestContext,
  kind: ProviderKind,
  opts: {
    behaviour?: Partial<ProviderBehaviour>;
    environ?: NodeJS.ProcessEnv;
    extra?: Record<string, unknown>;
  } = {},
): Promise<ExternalSetup> {
  const fake =
    kind === "openai"
      ? await startFakeOpenAI({ behaviour: opts.behaviour })
      : await startFakeAnthropic({ behaviour: opts.behaviour });
  t.after(() => fake.close());
  const ollamaBackend = await startFakeOllama({ name: "gpu1" });
  t.after(() => ollamaBackend.close());
  const dir = tempDir(t);
  const { config } = writeConfig(
    dir,
    section([ollamaBackend], {
      external_hosts: {
        [kind]: {
          host: "127.0.0.1",
          port: fake.port,
          protocol: "http",
          api_key_env: KEY_VAR[kind],
          name: kind,
        },
      },
      model_config: { explicit_assignments: { [MODEL[kind]]: kind } },
      ...opts.extra,
    }),
  );
  const store = openStore(config.database);
  const userToken = store.users.create("alice").token;
  const logLines: string[] = [];
  const log = pino(
    { level: "debug", redact: { paths: REDACT_PATHS, censor: "[redacted]" } },
    { write: (s: string) => void logLines.push(s) },
  );
  const done: RequestContext[] = [];
  const telemetry: Telemetry = {
    observe: () => null,
    done: (ctx) => void done.push(ctx),
    metrics: () => null,
    components: () => [],
  };
  const server = await startServer({
    config,
    store,
    log,
    port: 0,
    telemetry,
    environ: opts.environ ?? { [KEY_VAR[kind]]: fake.key },
  });
  t.after(async () => {
    await server.close(0);
    store.close();
  });
  return {
    url: server.url,
    server,
    fake,
    ollamaBackend,
    model: MODEL[kind],
    userToken,
    ollama: new Ollama({ host: server.url, headers: { authorization: `Bearer ${userToken}` } }),
    openai: new OpenAI({ baseURL: `${server.url}/v1`, apiKey: userToken, maxRetries: 0 }),
    logLines,
    done,
  };
}

/** The last request the fake provider received (fails the test when there is none). */
export function lastReceived(fake: FakeProvider) {
  const r = fake.received[fake.received.length - 1];
  if (r === undefined) throw new Error("the fake provider received no request");
  return r;
}
