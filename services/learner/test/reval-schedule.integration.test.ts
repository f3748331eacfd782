// ReVal's schedule across real rollout, learner and replay processes with a
// real database: K = 2 updates per iteration (fresh, then a buffer sample),
// and a reference reset with a buffer flush every R iterations.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { credentials } from "@grpc/grpc-js";
import { LearnerServiceClient } from "../../../shared/gen/valor/learner/v1/learner.pb";
import { ReplayServiceClient } from "../../../shared/gen/valor/replay/v1/replay.pb";
import { RolloutServiceClient } from "../../../shared/gen/valor/rollout/v1/rollout.pb";
import { unary } from "../../../shared/grpc/client";
import { checkAnswer, generateProblems } from "../../../shared/models/arith-task";
import { openTestDatabase, type TestDatabase } from "../../../shared/testing/database";
import { startServiceProcess, type ServiceProcess } from "../../../shared/local/service-process";
import { ReValSchedule, REVAL_DEFAULTS, type IterationReport } from "../../../shared/training/reval-schedule";

let db: TestDatabase;
const processes: ServiceProcess[] = [];
let clients: { rollout: RolloutServiceClient; learner: LearnerServiceClient; replay: ReplayServiceClient };

before(async () => {
  db = await openTestDatabase();
  const mongo = { MONGODB_URI: db.uri, MONGODB_DATABASE: db.database };
  const rollout = await startServiceProcess("rollout", { ROLLOUT_INTRA_OP_THREADS: "1" });
  const [learner, replay] = await Promise.all([
    startServiceProcess("learner", { ...mongo, LEARNER_RUN_ID: "reval", LEARNER_ROLLOUT_ADDRESSES: rollout.address, LEARNER_CHECKPOINT_EVERY: "0", LEARNER_INTRA_OP_THREADS: "1" }),
    startServiceProcess("replay", mongo),
  ]);
  processes.push(rollout, learner, replay);
  clients = {
    rollout: new RolloutServiceClient(rollout.address, credentials.createInsecure()),
    learner: new LearnerServiceClient(learner.address, credentials.createInsecure()),
    replay: new ReplayServiceClient(replay.address, credentials.createInsecure()),
  };
});

after(async () => {
  for (const c of Object.values(clients ?? {})) c.close();
  for (const p of processes.reverse()) await p.stop();
  await db?.close();
});

describe("ReVal schedule", () => {
  it("makes K updates per iteration (fresh, then replayed) and resets the reference and the buffer every R iterations", async () => {
    const problems = generateProblems(5, 6, "train", [2, 3]);
    const prompts = problems.map((p, i) => ({ id: `q${i}`, text: p.prompt }));
    const schedule = new ReValSchedule(clients, (prompt, sample) => (checkAnswer(sample.text, problems[Number(prompt.id.slice(1))]!.answer) ? 1 : 0), {
      ...REVAL_DEFAULTS,
      learnerRunId: "reval",
      replayRunId: "reval-buffer",
      referenceResetEvery: 2,
      samplesPerPrompt: 4,
      maxNewTokens: 8,
      temperature: 1,
      learningRate: 1e-5,
    });
    await schedule.start();
    const reports: IterationReport[] = [];
    for (let i = 0; i < 4; i++) reports.push(await schedule.runIteration(prompts));

    for (const r of reports) {
      assert.equal(r.updates.length, 2);
      assert.equal(r.updates[0]!.metrics!.replayedFraction, 0);
      assert.equal(r.updates[1]!.metrics!.replayedFraction, 1);
      for (const u of r.updates) assert.ok(Number.isFinite(u.metrics!.loss) && Number.isFinite(u.metrics!.residualMean));
    }
    // Two learner steps per iteration.
    assert.deepEqual(
      reports.map((r) => r.updates.map((u) => Number(u.policyVersion))),
      [
        [1, 2],
        [3, 4],
        [5, 6],
        [7, 8],
      ],
    );
    // The reference moves to the current policy at iterations 2 (after 4 steps), not before.
    assert.deepEqual(
      reports.map((r) => [r.referenceReset, Number(r.referenceVersion)]),
      [
        [false, 0],
        [false, 0],
        [true, 4],
        [false, 4],
      ],
    );
    // At iteration 0 the reference is the current policy: the residual is -r̃/β only, and its mean is 0.
    assert.ok(Math.abs(reports[0]!.updates[0]!.metrics!.residualMean) < 1e-3);
    // Replayed data in iteration 1 comes from versions 0 and 2 while the learner is at 3.
    const stale = reports[1]!.updates[1]!.metrics!.meanStaleness;
    assert.ok(stale >= 1 && stale <= 3, `staleness ${stale}`);
    // The flush at iteration 2 dropped everything scored under the old reference.
    const stats = await unary(clients.replay.getStats.bind(clients.replay), { runId: "reval-buffer" });
    assert.equal(stats.run!.size, 2 * prompts.length * 4);
    assert.deepEqual(
      stats.versions.map((v) => Number(v.policyVersion)),
      [4, 6],
    );
  });
});
