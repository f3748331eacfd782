// Replay store benchmark (make bench). One run, one database, interleaved:
//   - appends of 1,024-trajectory batches through the service (gRPC → validate →
//     part documents + manifest, acknowledged after the database) vs the bare
//     driver: insertMany of the same 1,024 trajectories as one document each
//     (the obvious schema), and insertOne of the service's own part document
//     (its write with no service around it);
//   - Sample of 1,024 out of a 5,120-trajectory buffer, full trajectories back, p50/p99,
//     drawn from a separate lean client process (see below), with the GC pauses of that
//     client and of the service (its Prometheus endpoint) over the draws; alternating with
//     each draw, the same call to a "transport floor": a bare grpc-js server process that
//     answers with the bytes of one real response, no draw, no database, no serialization
//     (what this client, grpc-js and the machine cost at that moment, whatever the service);
//   - loading a 5,120-trajectory run after a restart.
// Targets: service >= 70% of bare insertMany throughput; sample p99 < 50 ms.
// Run: node dist/services/replay/bench/replay-bench.js   (BENCH_BATCHES, BENCH_SAMPLES,
//      BENCH_SAMPLE_IN_PROCESS=1: draw from this process, as before, for comparison)
import { fork } from "node:child_process";
import os from "node:os";
import { constants as perfConstants, performance, PerformanceObserver } from "node:perf_hooks";
import { credentials, Server, ServerCredentials } from "@grpc/grpc-js";
import { MongoClient } from "mongodb";
import { makeGenericClientConstructor, type CallOptions, type Client, type ClientUnaryCall, type Metadata, type ServiceError } from "@grpc/grpc-js";
import { ReplayServiceClient, ReplayServiceService, SampleResponse, type SampleRequest, type Trajectory } from "../../../shared/gen/valor/replay/v1/replay.pb";
import { unary } from "../../../shared/grpc/client";
import { startFerretDb, type FerretDb } from "../../../shared/local/ferretdb";
import { startServiceProcess, type ServiceProcess } from "../../../shared/local/service-process";
import { encodeColumns } from "../src/store/codec";

const BATCH = 1024;
const CAPACITY = 5120;
const BATCHES = Number(process.env.BENCH_BATCHES ?? 6);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 200);
const PROMPT_TOKENS = 128;
const RESPONSE_TOKENS = 256;

function makeBatch(step: number): Trajectory[] {
  let x = step * 7919 + 1;
  const rand = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
  return Array.from({ length: BATCH }, (_, i) => ({
    promptId: `prompt-${(step * BATCH + i) % 4096}`,
    groupId: `group-${step}-${Math.floor(i / 8)}`,
    promptTokenIds: Array.from({ length: PROMPT_TOKENS }, () => Math.floor(rand() * 150_000)),
    responseTokenIds: Array.from({ length: RESPONSE_TOKENS }, () => Math.floor(rand() * 150_000)),
    promptText: "Solve: what is the sum of the first n odd numbers? ".repeat(8),
    responseText: "The sum of the first n odd numbers is n squared, because ".repeat(16),
    // Float32 values, as the wire carries them.
    responseLogprobs: Array.from({ length: RESPONSE_TOKENS }, () => Math.fround(-rand() * 4)),
    reward: rand() < 0.4 ? 1 : 0,
    policyVersion: BigInt(step),
    refLogprobSum: -rand() * 300,
    refValue: rand(),
    createdAtUnixMs: BigInt(Date.now()),
  }));
}

/** The obvious schema: one document per trajectory, arrays as arrays. */
function plainDocs(step: number, ts: Trajectory[]) {
  return ts.map((t, i) => ({
    _id: `bare ${step} ${i}`,
    runId: "bare",
    step,
    index: i,
    seq: step * BATCH + i,
    ...t,
    policyVersion: Number(t.policyVersion),
    createdAtUnixMs: Number(t.createdAtUnixMs),
    insertedAt: new Date(),
  }));
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
const sortNum = (a: number[]) => [...a].sort((x, y) => x - y);

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const external = process.env.MONGODB_URI;
  const ferret: FerretDb | undefined = external ? undefined : await startFerretDb();
  const uri = external ?? ferret!.uri;
  const database = `valor_bench_${Date.now()}`;
  const mongo = new MongoClient(uri);
  const db = mongo.db(database);
  const env = { MONGODB_URI: uri, MONGODB_DATABASE: database, LOG_LEVEL: "info", REPLAY_DEFAULT_CAPACITY: String(CAPACITY) };
  let service: ServiceProcess = await startServiceProcess("replay", env);
  let client = new ReplayServiceClient(service.address, credentials.createInsecure(), { "grpc.max_receive_message_length": 256 * 1024 * 1024 });
  try {
    const batches = Array.from({ length: BATCHES + 1 }, (_, s) => makeBatch(s));
    const bareCol = db.collection("bare_trajectories");
    const partCol = db.collection("bare_parts");
    const lat = { service: [] as number[], bare: [] as number[], part: [] as number[] };
    const wc = { w: "majority" as const, journal: true };
    const timed = async (fn: () => Promise<unknown>) => {
      const t = performance.now();
      await fn();
      return performance.now() - t;
    };
    // Step 0 warms every path up (JIT, connections, collection creation), unmeasured.
    for (let s = 0; s <= BATCHES; s++) {
      const ts = batches[s]!;
      const svc = await timed(() => unary(client.append.bind(client), { runId: "bench", step: BigInt(s), startIndex: 0, trajectories: ts, expectedResetId: "" }, 120_000));
      const bare = await timed(() => bareCol.insertMany(plainDocs(s, ts) as never[], { ordered: false, writeConcern: wc }));
      const part = await timed(() => partCol.insertOne({ _id: `part ${s}`, ...encodeColumns(ts) } as never, { writeConcern: wc }));
      if (s > 0) {
        lat.service.push(svc);
        lat.bare.push(bare);
        lat.part.push(part);
      }
      process.stderr.write(`  batch ${s}: service ${svc.toFixed(0)} ms, bare insertMany ${bare.toFixed(0)} ms, bare part insertOne ${part.toFixed(0)} ms\n`);
    }
    const perSecond = (l: number[]) => (BATCH * l.length) / (l.reduce((a, b) => a + b, 0) / 1000);
    const appendRows = (
      [
        ["service Append (gRPC, part + manifest)", lat.service],
        ["bare driver insertMany (1 doc/trajectory)", lat.bare],
        ["bare driver insertOne (the service's part doc)", lat.part],
      ] as const
    ).map(([name, l]) => {
      const s = sortNum(l);
      return [name, perSecond(l).toFixed(0), quantile(s, 0.5).toFixed(0), s[s.length - 1]!.toFixed(0)];
    });

    // Sampling 1,024 of the 5,120 buffered.
    const stats = await unary(client.getStats.bind(client), { runId: "bench" });
    const size = stats.run!.size;
    // The draws run in a separate, lean client process (BENCH_SAMPLE_IN_PROCESS=1: in this
    // one). This process holds the benchmark's ~100 MB of generated trajectories; every
    // 3.6 MB response it receives counts against V8's external-memory budget and sets off a
    // mark-compact of that heap (measured: pauses up to ~120 ms), which is the benchmark
    // timing itself, not the service. A trainer's client holds its own batch, not ours.
    const floor = await startFloorServer(service.address);
    const gcBefore = await serviceGc(service);
    let report: SampleReport;
    try {
      report =
        process.env.BENCH_SAMPLE_IN_PROCESS === "1"
          ? await drawSamples(service.address, SAMPLES, floor.address)
          : await drawSamplesInChild(service.address, SAMPLES, floor.address);
    } finally {
      floor.stop();
    }
    const gcAfter = await serviceGc(service);
    const { raw: rawLat, decoded: sampleLat, floor: floorLat, bytes } = report;
    const ss = sortNum(sampleLat);
    const rs = sortNum(rawLat);
    const fs = sortNum(floorLat);

    // Restart: the first call loads the run from the database.
    await service.stop();
    client.close();
    service = await startServiceProcess("replay", env);
    client = new ReplayServiceClient(service.address, credentials.createInsecure());
    const loadMs = await timed(() => unary(client.getStats.bind(client), { runId: "bench" }, 120_000));

    const svcRate = perSecond(lat.service);
    const bareRate = perSecond(lat.bare);
    const partRate = perSecond(lat.part);
    process.stdout.write(
      `\nReplay store — batches of ${BATCH} trajectories (${PROMPT_TOKENS}+${RESPONSE_TOKENS} tokens, ${RESPONSE_TOKENS} log-probs, ~1.3 kB text), ` +
        `${BATCHES} measured batches each, interleaved; database ${external ? "MONGODB_URI" : "FerretDB (private)"}\n\n` +
        table(["append path", "trajectories/s", "p50 ms/batch", "max ms/batch"], appendRows) +
        "\n\n" +
        table(
          ["ratio", "value", "target"],
          [
            ["service / bare insertMany", `${((100 * svcRate) / bareRate).toFixed(0)}%`, ">= 70%"],
            ["service / bare insertOne of its own part doc", `${((100 * svcRate) / partRate).toFixed(0)}%`, "(overhead)"],
          ],
        ) +
        "\n\n" +
        table(
          ["Sample 1,024 of " + size, "p50 ms", "p99 ms", "max ms", "target"],
          [
            [`service + transport (response bytes, ${(bytes / 1e6).toFixed(1)} MB)`, quantile(rs, 0.5).toFixed(1), quantile(rs, 0.99).toFixed(1), rs[rs.length - 1]!.toFixed(1), "p99 < 50 ms"],
            ["transport floor (bare server, same bytes, no work)", quantile(fs, 0.5).toFixed(1), quantile(fs, 0.99).toFixed(1), fs[fs.length - 1]!.toFixed(1), ""],
            ["service + transport + ts-proto decode in the client", quantile(ss, 0.5).toFixed(1), quantile(ss, 0.99).toFixed(1), ss[ss.length - 1]!.toFixed(1), ""],
          ],
        ) +
        "\n\n" +
        `draws over 50 ms: service + transport ${rs.filter((x) => x > 50).length} of ${rs.length}, transport floor ${fs.filter((x) => x > 50).length} of ${fs.length}, with decode ${ss.filter((x) => x > 50).length} of ${ss.length}\n` +
        `service + transport minus the floor drawn just after it, per draw: p50 ${quantile(sortNum(rawLat.map((x, i) => x - floorLat[i]!)), 0.5).toFixed(1)} ms\n` +
        `load average (1 min) before / after the draws: ${report.loadBefore.toFixed(2)} / ${report.loadAfter.toFixed(2)} (${os.cpus().length} CPUs)\n` +
        `client (${process.env.BENCH_SAMPLE_IN_PROCESS === "1" ? "this process" : "separate process"}) GC pauses during the raw draws (service and floor): ${gcLine(report.gcRaw)}; during the decoded draws: ${gcLine(report.gcDecoded)}\n` +
        `service GC pauses during all draws: ${gcAfter && gcBefore ? gcLine(diffGc(gcAfter, gcBefore)) : "(no metrics endpoint)"}\n` +
        (gcAfter && gcBefore
          ? `service Sample calls, request to status (draw, sending, ledger insert) over 25 ms: ${gcAfter.handlerOver25! - gcBefore.handlerOver25!} of ${gcAfter.sampleCalls! - gcBefore.sampleCalls!}, over 50 ms: ${gcAfter.handlerOver50! - gcBefore.handlerOver50!}\n`
          : "") +
        `run load after restart (${size} trajectories, ${stats.samplesDrawn + BigInt(2 * (SAMPLES + 10) + 1)} draws in the ledger): ${loadMs.toFixed(0)} ms\n` +
        `total ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
    );
  } finally {
    client.close();
    await service.stop();
    await mongo.db(database).dropDatabase().catch(() => undefined);
    await mongo.close();
    await ferret?.destroy();
  }
}

interface GcTotals {
  handlerOver25?: number;
  handlerOver50?: number;
  sampleCalls?: number;
  major: number;
  majorMs: number;
  majorMaxMs: number;
  minor: number;
  minorMs: number;
}

interface SampleReport {
  raw: number[];
  /** The transport floor, drawn right after each raw draw. */
  floor: number[];
  decoded: number[];
  bytes: number;
  gcRaw: GcTotals;
  gcDecoded: GcTotals;
  loadBefore: number;
  loadAfter: number;
}

const noGc = (): GcTotals => ({ major: 0, majorMs: 0, majorMaxMs: 0, minor: 0, minorMs: 0 });
const diffGc = (a: GcTotals, b: GcTotals): GcTotals => ({
  major: a.major - b.major,
  majorMs: a.majorMs - b.majorMs,
  majorMaxMs: Number.NaN,
  minor: a.minor - b.minor,
  minorMs: a.minorMs - b.minorMs,
});
const gcLine = (g: GcTotals) =>
  `${g.major} major (${g.majorMs.toFixed(0)} ms${Number.isNaN(g.majorMaxMs) ? "" : `, longest ${g.majorMaxMs.toFixed(0)} ms`}), ${g.minor} minor (${g.minorMs.toFixed(0)} ms)`;

/** The service's GC totals from its Prometheus endpoint (prom-client's nodejs_gc_duration_seconds). */
async function serviceGc(service: ServiceProcess): Promise<GcTotals | undefined> {
  if (service.metricsPort === undefined) return undefined;
  const text = await (await fetch(`http://127.0.0.1:${service.metricsPort}/metrics`)).text();
  const value = (name: string, kind: string) => {
    const m = new RegExp(`^${name}\\{[^}]*kind="${kind}"[^}]*\\} ([0-9.e+-]+)$`, "m").exec(text);
    return m ? Number(m[1]) : 0;
  };
  // grpc_server_handling_seconds of Sample: request to status (draw, serialisation, sending, ledger insert).
  const over = (le: string) => {
    const b = new RegExp(`^grpc_server_handling_seconds_bucket\\{[^}]*le="${le}"[^}]*grpc_method="Sample"[^}]*\\} ([0-9.e+-]+)$|^grpc_server_handling_seconds_bucket\\{[^}]*grpc_method="Sample"[^}]*le="${le}"[^}]*\\} ([0-9.e+-]+)$`, "m").exec(text);
    return b ? Number(b[1] ?? b[2]) : 0;
  };
  const count = /^grpc_server_handling_seconds_count\{[^}]*grpc_method="Sample"[^}]*\} ([0-9.e+-]+)$/m.exec(text);
  const sampleCalls = count ? Number(count[1]) : 0;
  return {
    handlerOver25: sampleCalls - over("0.025"),
    handlerOver50: sampleCalls - over("0.05"),
    sampleCalls,
    major: value("nodejs_gc_duration_seconds_count", "major"),
    majorMs: 1000 * value("nodejs_gc_duration_seconds_sum", "major"),
    majorMaxMs: Number.NaN,
    minor: value("nodejs_gc_duration_seconds_count", "minor"),
    minorMs: 1000 * value("nodejs_gc_duration_seconds_sum", "minor"),
  };
}

/** Draws `samples` (+10 warm-up) raw from the service, each followed by the same call to the floor server; then as many decoded with ts-proto. Times each, and this process's GC pauses. */
async function drawSamples(address: string, samples: number, floorAddress: string): Promise<SampleReport> {
  let gc = noGc();
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) {
        gc.major++;
        gc.majorMs += e.duration;
        gc.majorMaxMs = Math.max(gc.majorMaxMs, e.duration);
      } else if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) {
        gc.minor++;
        gc.minorMs += e.duration;
      }
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  const opts = { "grpc.max_receive_message_length": 256 * 1024 * 1024 };
  // Two clients: one that decodes the response with ts-proto (what a Node trainer pays),
  // one that takes the bytes as they arrive (service + transport; a Python trainer
  // decodes with the C++ protobuf runtime).
  const RawClient = makeGenericClientConstructor(
    { sample: { ...ReplayServiceService.sample, responseDeserialize: (b: Buffer) => b } },
    "valor.replay.v1.ReplayService",
  );
  const raw = new RawClient(address, credentials.createInsecure(), opts) as unknown as Client & {
    sample: (req: SampleRequest, md: Metadata, o: Partial<CallOptions>, cb: (e: ServiceError | null, r: Buffer) => void) => ClientUnaryCall;
  };
  const floor = new RawClient(floorAddress, credentials.createInsecure(), opts) as unknown as typeof raw;
  const client = new ReplayServiceClient(address, credentials.createInsecure(), opts);
  const rawLat: number[] = [];
  const floorLat: number[] = [];
  const sampleLat: number[] = [];
  let bytes = 0;
  const loadBefore = os.loadavg()[0]!;
  try {
    // Raw first, decoded after: the decoding client's garbage would otherwise land in the raw timings.
    for (let i = 0; i < samples + 10; i++) {
      if (i === 10) gc = noGc();
      const request = { runId: "bench", batchSize: BATCH, withReplacement: false, seed: BigInt(100_000 + i) } as SampleRequest;
      let t = performance.now();
      const buf = await unary(raw.sample.bind(raw), request);
      if (i >= 10) rawLat.push(performance.now() - t);
      bytes = buf.length;
      if (i === 0 && SampleResponse.decode(buf).trajectories.length !== BATCH) throw new Error("short raw sample");
      t = performance.now();
      const same = await unary(floor.sample.bind(floor), request);
      if (i >= 10) floorLat.push(performance.now() - t);
      if (Math.abs(same.length - buf.length) > buf.length / 100) throw new Error(`floor answered ${same.length} bytes, the service ${buf.length}`);
    }
    const loadAfter = os.loadavg()[0]!;
    await new Promise((r) => setImmediate(r)); // deliver the pending GC entries
    const gcRaw = gc;
    for (let i = 0; i < samples + 10; i++) {
      if (i === 10) gc = noGc();
      const t = performance.now();
      const res = await unary(client.sample.bind(client), { runId: "bench", batchSize: BATCH, withReplacement: false, seed: BigInt(i) });
      if (i >= 10) sampleLat.push(performance.now() - t);
      if (res.trajectories.length !== BATCH) throw new Error("short sample");
    }
    await new Promise((r) => setImmediate(r));
    return { raw: rawLat, floor: floorLat, decoded: sampleLat, bytes, gcRaw, gcDecoded: gc, loadBefore, loadAfter };
  } finally {
    observer.disconnect();
    raw.close();
    floor.close();
    client.close();
  }
}

const SAMPLE_CHILD = "--sample-client";
const FLOOR_SERVER = "--floor-server";

function drawSamplesInChild(address: string, samples: number, floorAddress: string): Promise<SampleReport> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, [SAMPLE_CHILD, address, String(samples), floorAddress], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    let report: SampleReport | undefined;
    child.once("message", (m) => (report = m as SampleReport));
    child.once("error", reject);
    child.once("exit", (code) => (report ? resolve(report) : reject(new Error(`sample client exited with code ${code}`))));
  });
}

/**
 * The transport floor: a separate process with a bare grpc-js server whose Sample answers the
 * bytes of one real response of the service (fetched once at start), with an identity
 * serializer. Same client, same bytes on the wire, nothing else.
 */
function startFloorServer(serviceAddress: string): Promise<{ address: string; stop(): void }> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, [FLOOR_SERVER, serviceAddress], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    child.once("message", (m) => resolve({ address: `127.0.0.1:${(m as { port: number }).port}`, stop: () => void child.kill() }));
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`floor server exited with code ${code}`)));
  });
}

async function serveFloor(serviceAddress: string): Promise<number> {
  const opts = { "grpc.max_receive_message_length": 256 * 1024 * 1024 };
  const RawClient = makeGenericClientConstructor({ sample: { ...ReplayServiceService.sample, responseDeserialize: (b: Buffer) => b } }, "valor.replay.v1.ReplayService");
  const raw = new RawClient(serviceAddress, credentials.createInsecure(), opts) as unknown as Client & {
    sample: (req: SampleRequest, md: Metadata, o: Partial<CallOptions>, cb: (e: ServiceError | null, r: Buffer) => void) => ClientUnaryCall;
  };
  const bytes = await unary(raw.sample.bind(raw), { runId: "bench", batchSize: BATCH, withReplacement: false, seed: 1n } as SampleRequest);
  raw.close();
  const server = new Server({ "grpc.max_send_message_length": 256 * 1024 * 1024 });
  server.addService({ sample: { ...ReplayServiceService.sample, responseSerialize: (b: Buffer) => b } }, {
    sample: (_call: unknown, cb: (e: null, r: Buffer) => void) => cb(null, bytes),
  } as never);
  return new Promise((resolve, reject) => server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, port) => (e ? reject(e) : resolve(port))));
}

if (process.argv[2] === FLOOR_SERVER) {
  serveFloor(process.argv[3]!).then(
    (port) => process.send!({ port }),
    (err: unknown) => {
      process.stderr.write(`replay-bench floor server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
} else if (process.argv[2] === SAMPLE_CHILD) {
  drawSamples(process.argv[3]!, Number(process.argv[4]), process.argv[5]!).then(
    (report) => process.send!(report, () => process.exit(0)),
    (err: unknown) => {
      process.stderr.write(`replay-bench sample client: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
} else {
  main().catch((err: unknown) => {
    process.stderr.write(`replay-bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
