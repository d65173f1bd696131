/**
 * The benchmark's own load client, for what wrk cannot measure: time to the first body byte,
 * large request bodies with the target's memory sampled meanwhile, and thousands of concurrent
 * slow streams. Runs as its own process: `node .build/bench/client.js '<job JSON>'`; prints one
 * line `BENCH_RESULT {...}` on stdout.
 */
import { Agent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { RESULT_PREFIX } from "./common.js";
import { peakRss, resetPeak, rss } from "./proc.js";

interface Common {
  url: string;
  path: string;
  headers: Record<string, string>;
  /** For an https:// url: the PEM certificate to trust. */
  ca?: string;
}

/** Sequential requests on `connections` keep-alive sockets; each records its time to first body byte. */
export interface TtfbJob extends Common {
  mode: "ttfb";
  body: string;
  connections: number;
  durationMs: number;
}

/** Requests with a large body, `connections` at a time, while the target's memory is watched. */
export interface BodyJob extends Common {
  mode: "body";
  bodyBytes: number;
  connections: number;
  durationMs: number;
  pids: number[];
}

/**
 * `streams` concurrent streaming requests, each on its own connection. The fake holds every
 * answer until all the requests have reached it (a barrier), so that they all stream at once
 * however long the opening took.
 */
export interface StreamsJob extends Common {
  mode: "streams";
  body: string;
  streams: number;
  /** Content lines each stream must deliver (the final line comes on top). */
  chunks: number;
  /** Requests being sent at once while opening. */
  connecting: number;
  /** Give up on streams still open after this long. */
  deadlineMs: number;
  pids: number[];
}

export type Job = TtfbJob | BodyJob | StreamsJob;

export interface TtfbResult {
  requests: number;
  errors: number;
  /** The first failure's reason, if any. */
  firstError: string | null;
  /** Time to first body byte of each request, µs. */
  ttfbUs: number[];
}

export interface BodyResult {
  requests: number;
  errors: number;
  firstError: string | null;
  /** Whole-request latency (first byte sent → response end) of each request, µs. */
  latencyUs: number[];
  rssBefore: number;
  /** Peak RSS during the run (VmHWM when it could be reset, else the highest 20 ms sample). */
  rssPeak: number;
  peakMethod: "hwm" | "sampled";
}

export interface StreamsResult {
  streams: number;
  completed: number;
  errors: Record<string, number>;
  /** Most streams open at once (first line received, final line not yet). */
  maxOpen: number;
  /** When the last request was sent, ms after the start; null if some never were. */
  sentMs: number | null;
  /** When the last stream got its first line, ms after the start; null if some never did. */
  allOpenMs: number | null;
  rssBefore: number;
  /** Streams open when `rssAtMax` was read (the 50 ms sample with the most open). */
  openAtSample: number;
  /** RSS read with `openAtSample` streams open. */
  rssAtMax: number;
  rssPeak: number;
  durationMs: number;
}

const now = () => Number(process.hrtime.bigint() / 1000n);

/** A request that has seen no byte for this long has failed (a hung target must not hang the bench). */
const IDLE_TIMEOUT_MS = 30_000;

/** A keep-alive agent for the job's url: HTTPS (trusting the job's CA) when it is https://. */
function agentFor(job: Common, connections: number): Agent {
  const options = { keepAlive: true, maxSockets: connections };
  return job.url.startsWith("https:") ? new HttpsAgent({ ...options, ca: job.ca }) : new Agent(options);
}

/** One request; resolves with [µs to first body byte, µs to end] or rejects with the reason. */
function once(agent: Agent, job: Common, body: Buffer | string): Promise<[number, number]> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    let first = 0;
    const request = job.url.startsWith("https:") ? httpsRequest : httpRequest;
    const req = request(
      job.url + job.path,
      {
        method: "POST",
        agent,
        headers: {
          ...job.headers,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        },
      },
      (res: IncomingMessage) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`status ${res.statusCode}`));
          return;
        }
        res.on("data", () => {
          if (first === 0) first = now() - t0;
        });
        res.on("end", () => resolve([first, now() - t0]));
        res.on("error", reject);
      },
    );
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(body);
  });
}

async function ttfb(job: TtfbJob): Promise<TtfbResult> {
  const agent = agentFor(job, job.connections);
  const result: TtfbResult = { requests: 0, errors: 0, firstError: null, ttfbUs: [] };
  const deadline = Date.now() + job.durationMs;
  const loop = async () => {
    while (Date.now() < deadline) {
      try {
        const [first] = await once(agent, job, job.body);
        result.ttfbUs.push(first);
        result.requests++;
      } catch (err) {
        result.errors++;
        result.firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: job.connections }, loop));
  agent.destroy();
  return result;
}

async function bigBody(job: BodyJob): Promise<BodyResult> {
  // "stream" comes first: the fake looks for it in the first chunk only.
  const head = Buffer.from('{"stream":false,"model":"bench","prompt":"');
  const tail = Buffer.from('"}');
  const body = Buffer.alloc(job.bodyBytes, "a");
  head.copy(body, 0);
  tail.copy(body, body.length - tail.length);
  const agent = new Agent({ keepAlive: true, maxSockets: job.connections });
  const result: BodyResult = {
    requests: 0,
    errors: 0,
    firstError: null,
    latencyUs: [],
    rssBefore: rss(job.pids),
    rssPeak: 0,
    peakMethod: "sampled",
  };
  const hwm = resetPeak(job.pids);
  let sampled = result.rssBefore;
  const sampler = setInterval(() => {
    sampled = Math.max(sampled, rss(job.pids));
  }, 20);
  const deadline = Date.now() + job.durationMs;
  const loop = async () => {
    while (Date.now() < deadline) {
      try {
        const [, total] = await once(agent, job, body);
        result.latencyUs.push(total);
        result.requests++;
      } catch (err) {
        result.errors++;
        result.firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: job.connections }, loop));
  clearInterval(sampler);
  agent.destroy();
  sampled = Math.max(sampled, rss(job.pids));
  result.rssPeak = hwm ? Math.max(peakRss(job.pids), sampled) : sampled;
  result.peakMethod = hwm ? "hwm" : "sampled";
  return result;
}

function streams(job: StreamsJob): Promise<StreamsResult> {
  // One connection per stream, as thousands of separate clients would have.
  const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  const result: StreamsResult = {
    streams: job.streams,
    completed: 0,
    errors: {},
    maxOpen: 0,
    sentMs: null,
    allOpenMs: null,
    rssBefore: rss(job.pids),
    openAtSample: 0,
    rssAtMax: 0,
    rssPeak: 0,
    durationMs: 0,
  };
  const hwm = resetPeak(job.pids);
  const failed = (kind: string) => {
    result.errors[kind] = (result.errors[kind] ?? 0) + 1;
  };
  const t0 = Date.now();
  const body = Buffer.from(job.body);
  // Every request of this run waits at the same barrier in the fake, so all stream together.
  const headers = {
    ...job.headers,
    "content-type": "application/json",
    "content-length": String(body.length),
    "x-bench-barrier": `${process.pid}-${t0}:${job.streams}`,
  };
  let started = 0;
  let sending = 0;
  let sent = 0;
  let open = 0;
  let firstLines = 0;
  let settled = 0;
  let closed = false;
  const requests = new Set<ReturnType<typeof httpRequest>>();

  // RSS is read every 50 ms; the reading taken with the most streams open is the one reported.
  const sampler = setInterval(() => {
    const o = open;
    if (o === 0) return;
    const r = rss(job.pids);
    if (o > result.openAtSample || (o === result.openAtSample && r > result.rssAtMax)) {
      result.openAtSample = o;
      result.rssAtMax = r;
    }
  }, 50);

  return new Promise((resolve) => {
    const finish = () => {
      closed = true;
      clearInterval(sampler);
      clearTimeout(deadline);
      for (const r of requests) r.destroy();
      agent.destroy();
      result.durationMs = Date.now() - t0;
      result.rssPeak = hwm ? peakRss(job.pids) : result.rssAtMax;
      resolve(result);
    };
    const settle = () => {
      if (++settled === job.streams) finish();
    };
    const start = () => {
      started++;
      sending++;
      let lines = 0;
      let counted = false;
      let written = false;
      let done = false;
      const wrote = () => {
        if (written) return;
        written = true;
        sending--;
        if (++sent === job.streams) result.sentMs = Date.now() - t0;
        more();
      };
      const end = (error: string | null) => {
        if (done || closed) return;
        done = true;
        wrote();
        if (counted) open--;
        if (error === null) result.completed++;
        else failed(error);
        requests.delete(req);
        settle();
      };
      const req = httpRequest(job.url + job.path, { method: "POST", agent, headers }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          end(`status ${res.statusCode}`);
          return;
        }
        res.on("data", (chunk: Buffer) => {
          if (!counted) {
            counted = true;
            open++;
            if (open > result.maxOpen) result.maxOpen = open;
            if (++firstLines === job.streams) result.allOpenMs = Date.now() - t0;
          }
          for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
        });
        res.on("end", () => end(lines === job.chunks + 1 ? null : `incomplete (${lines} lines)`));
        res.on("error", (err: NodeJS.ErrnoException) => end(err.code ?? err.message));
      });
      requests.add(req);
      req.on("finish", wrote);
      req.on("error", (err: NodeJS.ErrnoException) => end(err.code ?? err.message));
      req.end(body);
    };
    // Opening is closed-loop: at most `connecting` requests on their way at a time, so that the
    // target's accept queue (511) never overflows into SYN retries that take seconds.
    const more = () => {
      while (!closed && sending < job.connecting && started < job.streams) start();
    };
    more();
    const deadline = setTimeout(() => {
      const left = job.streams - settled;
      if (left > 0) result.errors["deadline"] = left + (result.errors["deadline"] ?? 0);
      finish();
    }, job.deadlineMs);
  });
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? "{}") as Job;
  const result =
    job.mode === "ttfb" ? await ttfb(job) : job.mode === "body" ? await bigBody(job) : await streams(job);
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

await main();
