// What logging costs in throughput: the real CLI (`node bin/ollama-proxy serve`, its own
// process) in front of a fake Ollama, loaded by keep-alive clients in this process, with
// logging.request_log off, on, and on plus the per-request app-log line in a file. Rounds
// alternate between the modes so that a noisy machine hurts them alike.
//
//   npm run build && npx tsc --noEmit false && node .build/bench/request-log-cost.js [seconds] [rounds]
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { join } from "node:path";
import { openStore } from "../lib/store/open.js";
import { startFakeOllama } from "../test/fixtures/fake-ollama.js";
import { ROOT, section, writeConfig } from "../test/helpers.js";

const SECONDS = Number(process.argv[2] ?? 5);
const ROUNDS = Number(process.argv[3] ?? 3);
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
  const token =
    store.users.list().length === 0
      ? store.users.create("bench").token
      : store.users.rotate("bench", {}).token;
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

async function load(url: string, token: string, seconds: number): Promise<{ rps: number; requests: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const target = new URL(`${url}/api/generate`);
  const one = () =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        target,
        {
          method: "POST",
          agent,
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/json",
            "content-length": Buffer.byteLength(BODY),
          },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.end(BODY);
    });
  // Warm-up: connections open, the model list known.
  await Promise.all(Array.from({ length: CONCURRENCY }, one));
  let done = 0;
  const end = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < end) {
        if ((await one()) !== 200) throw new Error("non-200 answer");
        done++;
      }
    }),
  );
  agent.destroy();
  return { rps: done / seconds, requests: done };
}

const { tmpdir } = await import("node:os");
const dir = mkdtempSync(join(tmpdir(), "olp-bench-"));
const backend = await startFakeOllama({ name: "gpu1" });
const backendSection = section([backend]);
const modes: Mode[] = ["off", "request_log", "request_log+app_log"];
const results = new Map<Mode, number[]>(modes.map((m) => [m, []]));
const cpuPerRequest = new Map<Mode, number[]>(modes.map((m) => [m, []]));
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of round % 2 === 0 ? modes : [...modes].reverse()) {
      const proxy = await serve(dir, mode, backendSection);
      const cpu0 = proxy.cpu();
      const { rps, requests } = await load(proxy.url, proxy.token, SECONDS);
      const us = ((proxy.cpu() - cpu0) / requests) * 1e6;
      await proxy.stop();
      results.get(mode)!.push(rps);
      cpuPerRequest.get(mode)!.push(us);
      console.log(
        `round ${round + 1} ${mode.padEnd(20)} ${rps.toFixed(0)} req/s  ${us.toFixed(0)} µs CPU/request`,
      );
    }
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
  const { createTelemetry } = await import("../lib/telemetry.js");
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
const off = median(results.get("off")!);
const offCpu = median(cpuPerRequest.get("off")!);
for (const m of modes) {
  const med = median(results.get(m)!);
  const cpu = median(cpuPerRequest.get(m)!);
  console.log(
    `${m.padEnd(20)} median ${med.toFixed(0)} req/s (x${(med / off).toFixed(3)} of off)  ` +
      `${cpu.toFixed(0)} µs CPU/request (x${(cpu / offCpu).toFixed(3)} of off)`,
  );
}
