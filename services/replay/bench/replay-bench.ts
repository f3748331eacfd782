// Replay store benchmark (make bench). One run, one database, interleaved:
//   - appends of 1,024-trajectory batches through the service (gRPC → validate →
//     part documents + manifest, acknowledged after the database) vs the bare
//     driver: insertMany of the same 1,024 trajectories as one document each
//     (the obvious schema), and insertOne of the service's own part document
//     (its write with no service around it);
//   - Sample of 1,024 out of a 5,120-trajectory buffer, full trajectories back, p50/p99;
//   - loading a 5,120-trajectory run after a restart.
// Targets: service >= 70% of bare insertMany throughput; sample p99 < 50 ms.
// Run: node dist/services/replay/bench/replay-bench.js   (BENCH_BATCHES, BENCH_SAMPLES)
import { performance } from "node:perf_hooks";
import { credentials } from "@grpc/grpc-js";
import { MongoClient } from "mongodb";
import { makeGenericClientConstructor, type CallOptions, type Client, type ClientUnaryCall, type Metadata, type ServiceError } from "@grpc/grpc-js";
import { ReplayServiceClient, ReplayServiceService, SampleResponse, type SampleRequest, type Trajectory } from "../../../shared/gen/valor/replay/v1/replay.pb";
import { unary } from "../../../shared/grpc/client";
import { startFerretDb, type FerretDb } from "../../../shared/testing/ferretdb";
import { startServiceProcess, type ServiceProcess } from "../../../shared/testing/service-process";
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
    // Two clients: one that decodes the response with ts-proto (what a Node trainer pays),
    // one that takes the bytes as they arrive (service + transport; a Python trainer
    // decodes with the C++ protobuf runtime).
    const RawClient = makeGenericClientConstructor(
      { sample: { ...ReplayServiceService.sample, responseDeserialize: (b: Buffer) => b } },
      "valor.replay.v1.ReplayService",
    );
    const raw = new RawClient(service.address, credentials.createInsecure(), { "grpc.max_receive_message_length": 256 * 1024 * 1024 }) as unknown as Client & {
      sample: (req: SampleRequest, md: Metadata, o: Partial<CallOptions>, cb: (e: ServiceError | null, r: Buffer) => void) => ClientUnaryCall;
    };
    const sampleLat: number[] = [];
    const rawLat: number[] = [];
    let bytes = 0;
    // Raw first, decoded after: the decoding client's garbage would otherwise land in the raw timings.
    for (let i = 0; i < SAMPLES + 10; i++) {
      const t = performance.now();
      const buf = await unary(raw.sample.bind(raw), { runId: "bench", batchSize: BATCH, withReplacement: false, seed: BigInt(100_000 + i) } as SampleRequest);
      if (i >= 10) rawLat.push(performance.now() - t);
      bytes = buf.length;
      if (i === 0 && SampleResponse.decode(buf).trajectories.length !== BATCH) throw new Error("short raw sample");
    }
    for (let i = 0; i < SAMPLES + 10; i++) {
      const t = performance.now();
      const res = await unary(client.sample.bind(client), { runId: "bench", batchSize: BATCH, withReplacement: false, seed: BigInt(i) });
      if (i >= 10) sampleLat.push(performance.now() - t);
      if (res.trajectories.length !== BATCH) throw new Error("short sample");
    }
    raw.close();
    const ss = sortNum(sampleLat);
    const rs = sortNum(rawLat);

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
            ["same + ts-proto decode in the client", quantile(ss, 0.5).toFixed(1), quantile(ss, 0.99).toFixed(1), ss[ss.length - 1]!.toFixed(1), ""],
          ],
        ) +
        "\n\n" +
        `draws over 50 ms: service + transport ${rs.filter((x) => x > 50).length} of ${rs.length}, with decode ${ss.filter((x) => x > 50).length} of ${ss.length}\n` +
        `run load after restart (${size} trajectories, ${stats.samplesDrawn + BigInt(2 * (SAMPLES + 10))} draws in the ledger): ${loadMs.toFixed(0)} ms\n` +
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

main().catch((err: unknown) => {
  process.stderr.write(`replay-bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
