/**
 * The scheduling scenario's upstream, as its own process: the fake Ollama with a GPU's limits
 * (test/fixtures/gpu-ollama.ts) — per-model slots, models in memory, load time, service time,
 * strict arrival order, its own max queue — on the system clock.
 *
 *   node .build/bench/fake-gpu-ollama.js '{"models":["a","b"],"limits":{...},"loaded":["a"]}'
 *
 * Prints `listening on http://127.0.0.1:PORT` on stderr; GET /_gpu says what the GPU did.
 */
import type { GpuLimits } from "../test/fixtures/gpu.js";
import { startGpuOllama } from "../test/fixtures/gpu-ollama.js";

interface Options {
  models: string[];
  limits?: Partial<GpuLimits>;
  loaded?: string[];
}

const opts = JSON.parse(process.argv[2] ?? "{}") as Options;
const fake = await startGpuOllama({
  models: opts.models ?? ["a"],
  limits: opts.limits ?? {},
  loaded: opts.loaded ?? [],
});
process.stderr.write(`listening on ${fake.url}\n`);
process.on("SIGTERM", () => {
  void fake.close().then(() => process.exit(0));
});
