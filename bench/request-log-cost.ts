// What logging costs in throughput: three copies of the real CLI (`node bin/ollama-proxy
// serve`, each its own process) in front of one fake Ollama — logging.request_log off, on,
// and on plus the per-request app-log line in a file — loaded in turn by keep-alive clients
// in this process, in short slices and shuffled order, so that a shared machine's load
// swings hurt all three alike. Reported: requests per second of load and the proxy
// process's CPU per request (all its threads, the log writer included).
//
//   npm run build && npx tsc --noEmit false && node .build/bench/request-log-cost.js [slice-seconds] [rounds]
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { join } from "node:path";
import { openStore } from "../lib/store/open.js";
import { startFakeOllama } from "../test/fixtures/fake-ollama.js";
import { ROOT, section, writeConfig } from "../test/helpers.js";

const SLICE_SECONDS = Number(process.argv[2] ?? 1);
const ROUNDS = Number(process.argv[3] ?? 20);
const CONCURRENCY = 32;
const BODY = JSON.stringify({ model: "llama3", prompt: "hi", stream: false });

type Mode = "off" | "request_log" | "request_log+app_log";

async function serve(dir: string, mode: Mode, backendSection: Record<string, unknown>) {
  const logging =
    mode === "off"
      ? { level: "warn", dir: null, request_log: false }
      : mode === "request_log"
        ? { level: "warn", dir: null, request_log: true }
        : { level: "info", dir: join(dir, `log-${Date.now()}`), request_log: true };
  const { file, config } = writeConfig(dir, { ...backendSection, logging });
  const store = openStore(config.database);
  const token = store.users.create("bench").token;
  store.close();
  const child = spawn(
    process.execPath,
    [join(ROOT, "bin/ollama-proxy"), "serve", "--config", file, "--env", "test", "--port", "0"],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let err = "";
  child.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const deadline = Date.now() + 15_000;
  let url: string | undefined;
  while (url === undefined) {
    url = /listening on (http:\/\/\S+)/.exec(err)?.[1];
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`serve did not start:\n${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    url,
    token,
    /** CPU seconds the proxy process (all its threads, the log writer included) has used so far. */
    cpu: () => {
      // /proc/PID/stat fields 14 and 15: utime and stime in clock ticks (100 per second on Linux).
      const fields = readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
    stop: async () => {
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}

/** A keep-alive client pool on one proxy; `run` loads it for a while and counts the answers. */
function loader(url: string, token: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const target = new URL(`${url}/api/generate`);
  const headers = {
    authorization: `Bearer ${token}`,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(BODY),
  };
  const one = () =>
    new Promise<number>((resolve, reject) => {
      const req = request(target, { method: "POST", agent, headers }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      });
      req.on("error", reject);
      req.end(BODY);
    });
  return {
    async run(seconds: number): Promise<number> {
      let done = 0;
      const end = Date.now() + seconds * 1000;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (Date.now() < end) {
            const status = await one();
            if (status !== 200) throw new Error(`answered ${status}`);
            done++;
          }
        }),
      );
      return done;
    },
    close: () => agent.destroy(),
  };
}

const { tmpdir } = await import("node:os");
const dir = mkdtempSync(join(tmpdir(), "olp-bench-"));
const backend = await startFakeOllama({ name: "gpu1" });
const backendSection = section([backend]);
const modes: Mode[] = ["off", "request_log", "request_log+app_log"];
type Proxy = Awaited<ReturnType<typeof serve>> & { load: ReturnType<typeof loader> };
const proxies = new Map<Mode, Proxy>();
const requests = new Map<Mode, number>(modes.map((m) => [m, 0]));
const cpu = new Map<Mode, number>(modes.map((m) => [m, 0]));
try {
  for (const mode of modes) {
    const p = await serve(mkdtempSync(join(dir, `${mode}-`)), mode, backendSection);
    const load = loader(p.url, p.token);
    await load.run(1); // warm-up: connections open, JIT warm
    proxies.set(mode, { ...p, load });
  }
  for (let round = 0; round < ROUNDS; round++) {
    const order = [...modes].sort(() => Math.random() - 0.5);
    for (const mode of order) {
      const p = proxies.get(mode)!;
      const cpu0 = p.cpu();
      requests.set(mode, requests.get(mode)! + (await p.load.run(SLICE_SECONDS)));
      cpu.set(mode, cpu.get(mode)! + p.cpu() - cpu0);
    }
  }
  const offRps = requests.get("off")! / (ROUNDS * SLICE_SECONDS);
  const offCpu = cpu.get("off")! / requests.get("off")!;
  for (const mode of modes) {
    const rps = requests.get(mode)! / (ROUNDS * SLICE_SECONDS);
    const us = (cpu.get(mode)! / requests.get(mode)!) * 1e6;
    console.log(
      `${mode.padEnd(20)} ${rps.toFixed(0)} req/s (x${(rps / offRps).toFixed(3)} of off)  ` +
        `${us.toFixed(0)} µs CPU/request (x${(us / 1e6 / offCpu).toFixed(3)} of off)`,
    );
  }
  for (const p of proxies.values()) {
    p.load.close();
    await p.stop();
  }
  for (const mode of modes) {
    const us = median([
      await doneCost(mode, 50_000),
      await doneCost(mode, 50_000),
      await doneCost(mode, 50_000),
    ]);
    console.log(
      `telemetry.done() ${mode.padEnd(20)} ${us.toFixed(1)} µs CPU/request (all threads, flush included)`,
    );
  }
} finally {
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
}
/**
 * The same cost without the noise of a shared machine: CPU time (every thread of this
 * process, the writer included) of telemetry.done() for N finished requests, plus the
 * flush, with the request log on, per request.
 */
async function doneCost(mode: Mode, n: number): Promise<number> {
  const { createTelemetry } = await import("../lib/observe/telemetry.js");
  const { createAppLog } = await import("../lib/log/app-log.js");
  const { newContext } = await import("../lib/context.js");
  const sub = mkdtempSync(join(dir, "done-"));
  const logging =
    mode === "off"
      ? { level: "warn", dir: null, request_log: false }
      : mode === "request_log"
        ? { level: "warn", dir: null, request_log: true }
        : { level: "info", dir: join(sub, "log"), request_log: true };
  const { config } = writeConfig(sub, { ...backendSection, logging });
  openStore(config.database).close();
  const appLog = createAppLog(config);
  const telemetry = createTelemetry({ config, log: appLog.log, requestLog: { maxQueue: n } });
  const contexts = Array.from({ length: n }, (_, i) => {
    const ctx = newContext(`bench-${i}`, "POST", "/api/generate", "ollama", "127.0.0.1");
    Object.assign(ctx, {
      model: "llama3",
      server: "gpu1",
      status: 200,
      attempts: 1,
      bytesIn: 60,
      bytesOut: 400,
    });
    ctx.tSent = ctx.t0 + 0.2;
    ctx.tHeaders = ctx.t0 + 5;
    ctx.tFirstChunk = ctx.t0 + 5.5;
    ctx.tEnd = ctx.t0 + 40;
    ctx.usage = {
      promptTokens: 7,
      completionTokens: 3,
      evalDurationNs: 1e9,
      loadDurationNs: 1e8,
      totalDurationNs: 1.5e9,
      doneReason: "stop",
    };
    return ctx;
  });
  const before = process.cpuUsage();
  for (const ctx of contexts) telemetry.done(ctx);
  await telemetry.close();
  await appLog.close();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / n;
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}
