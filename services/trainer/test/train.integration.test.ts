// `valor train` end to end: the controller drives real service processes
// (started by its local mode) and records into a real database. Faults are
// injected at known points: a learner killed with SIGKILL, a rollout service
// killed (it restarts with the initial weights), a crash between the
// learner's answer and the step's record, and Ctrl-C between two steps.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { after, before, describe, it } from "node:test";
import { credentials } from "@grpc/grpc-js";
import { ReplayServiceClient } from "../../../shared/gen/valor/replay/v1/replay.pb";
import { ValueServiceClient } from "../../../shared/gen/valor/value/v1/value.pb";
import { unary } from "../../../shared/grpc/client";
import { processAlive, waitForExit } from "../../../shared/local/processes";
import { startServiceProcess, type ServiceProcess } from "../../../shared/local/service-process";
import { repoRoot } from "../../../shared/paths";
import { openTestDatabase, type TestDatabase } from "../../../shared/testing/database";
import { main as valor } from "../cli/valor";
import { train } from "../cli/train-cli";
import { parseTrainConfig, type TrainFile } from "../src/config";
import { InterruptedError, type ProgressSink } from "../src/controller";
import type { EvalRecord, StepRecord } from "../src/domain/records";
import type { LocalStack } from "../src/local-stack";
import { RunStore, type StoredRun } from "../src/store/run-store";

let db: TestDatabase;
let dataDir: string;
let store: RunStore;

before(async () => {
  db = await openTestDatabase();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "valor-train-"));
  store = new RunStore(db.client.db(db.database));
});

after(async () => {
  await db?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** A small, fast configuration on the test database. */
function config(runs: Array<Record<string, unknown>>, defaults: Record<string, unknown> = {}): TrainFile {
  return parseTrainConfig({
    services: { mongodb_uri: db.uri, database: db.database, data_dir: dataDir, onnx_threads: 1 },
    defaults: {
      seed: 3,
      prompts_per_step: 8,
      optimizer: { learning_rate: 3e-4 },
      task: { train_prompts: 64, eval_prompts: 16, eval_samples: 2, eval_every: 2 },
      ...defaults,
    },
    runs,
  });
}

/** Records what the controller reports, and runs a callback after chosen steps. */
function recorder(onStep: (step: number) => void = () => undefined) {
  const steps: StepRecord[] = [];
  const evals: EvalRecord[] = [];
  const notes: string[] = [];
  const sink: ProgressSink = {
    begin: () => undefined,
    step: (r) => {
      steps.push(r);
      onStep(r.step);
    },
    evaluation: (e) => evals.push(e),
    note: (m) => notes.push(m),
    end: () => undefined,
  };
  return { sink, steps, evals, notes };
}

function assertStepsOnce(records: readonly StepRecord[], n: number, versionsPerStep = 1): void {
  assert.deepEqual(
    records.map((r) => r.step),
    Array.from({ length: n }, (_, i) => i + 1),
  );
  assert.deepEqual(
    records.map((r) => r.policyVersion),
    Array.from({ length: n }, (_, i) => (i + 1) * versionsPerStep),
  );
}

describe("valor train, local mode", () => {
  it("trains GRPO through the services, survives a killed learner, a killed rollout service and a lost answer, and records every step once", async () => {
    let stack: LocalStack | undefined;
    const seen = recorder((step) => {
      if (step === 2) stack!.kill("learner");
      if (step === 4) stack!.kill("rollout");
    });
    // A crash between the learner's answer and the step's record: the controller must finish step 3 without applying it twice.
    const flaky = new RunStore(db.client.db(db.database));
    let failed = false;
    const recordStep = flaky.recordStep.bind(flaky);
    flaky.recordStep = async (r) => {
      if (r.step === 3 && !failed) {
        failed = true;
        throw Object.assign(new Error("connection reset"), { code: 14, details: "connection reset (injected)" });
      }
      return recordStep(r);
    };
    const [run] = await train(config([{ run_id: "grpo-e2e", algorithm: "grpo", steps: 6 }]), {
      progress: seen.sink,
      onStack: (s) => (stack = s),
      store: flaky,
    });
    assert.equal(run!.status, "completed");
    assert.equal(run!.completedSteps, 6);
    assert.ok(failed);

    const steps = await store.stepsOf("grpo-e2e");
    assertStepsOnce(steps, 6);
    for (const s of steps) {
      assert.equal(s.rollouts, 8 * 4);
      assert.ok(s.meanReward >= 0 && s.meanReward <= 1);
      assert.ok(Number.isFinite(s.loss) && s.gradNorm > 0, `step ${s.step}: learner metrics`);
    }
    assert.deepEqual(
      steps.map((s) => s.cumulativeRollouts),
      [32, 64, 96, 128, 160, 192],
    );
    // Rewards come from the verifier: some rollouts pass, some fail.
    const rewards = steps.map((s) => s.meanReward);
    assert.ok(rewards.some((r) => r > 0) && rewards.some((r) => r < 1));
    assert.deepEqual(
      (await store.evalsOf("grpo-e2e")).map((e) => [e.step, e.policyVersion]),
      [
        [0, 0],
        [2, 2],
        [4, 4],
        [6, 6],
      ],
    );
    assert.equal(stack!.restarts().learner, 1);
    assert.equal(stack!.restarts().rollout, 1);
    assert.ok(seen.notes.some((n) => /rollout service brought to policy version 4/.test(n)), seen.notes.join("\n"));
    assert.ok(seen.notes.some((n) => /retrying/.test(n)));
    const learnerLog = fs.readFileSync(path.join(dataDir, "logs", "learner.log"), "utf8");
    assert.match(learnerLog, /"step":2,"resumed":true/);
    assert.equal(await store.getPending("grpo-e2e", 3), null);
  });

  it("survives the local database being killed mid-run (the stack restarts it) and records the same steps as a clean run", async () => {
    // Local FerretDB (no mongodb_uri), one per run, in folders of their own.
    const localConfig = (folder: string) =>
      parseTrainConfig({
        services: { data_dir: path.join(dataDir, folder), onnx_threads: 1 },
        defaults: { seed: 5, prompts_per_step: 8, optimizer: { learning_rate: 3e-4 }, task: { train_prompts: 64, eval_prompts: 16, eval_samples: 2, eval_every: 0 } },
        runs: [{ run_id: "grpo-db-kill", algorithm: "grpo", steps: 4 }],
      });
    let stack: LocalStack | undefined;
    const killed = recorder((step) => step === 2 && stack!.kill("mongodb"));
    const [run] = await train(localConfig("db-kill"), { progress: killed.sink, onStack: (s) => (stack = s) });
    assert.equal(run!.status, "completed");
    assert.equal(stack!.restarts().mongodb, 1, "the database was restarted once");
    const clean = recorder();
    await train(localConfig("db-clean"), { progress: clean.sink });
    const essence = (r: StepRecord) => [r.step, r.policyVersion, r.rollouts, r.meanReward, r.loss];
    assert.deepEqual(killed.steps.map(essence), clean.steps.map(essence));
  });

  it("stops between steps on Ctrl-C, and the same configuration resumes the run where it stopped", async () => {
    const abort = new AbortController();
    const file = config([{ run_id: "grpo-resume", algorithm: "grpo", steps: 4 }]);
    const first = recorder((step) => step === 2 && abort.abort());
    await assert.rejects(train(file, { progress: first.sink, signal: abort.signal }), InterruptedError);
    let run = (await store.getRun("grpo-resume"))!;
    assert.equal(run.status, "interrupted");
    assert.equal(run.completedSteps, 2);

    const second = recorder();
    [run] = (await train(file, { progress: second.sink })) as [StoredRun];
    assert.equal(run.status, "completed");
    assert.equal(run.resumes, 1);
    assert.deepEqual(
      second.steps.map((s) => s.step),
      [3, 4],
    );
    assertStepsOnce(await store.stepsOf("grpo-resume"), 4);

    // Another configuration under the same run id is refused.
    const changed = config([{ run_id: "grpo-resume", algorithm: "grpo", steps: 4, seed: 9 }]);
    await assert.rejects(train(changed, { progress: recorder().sink }), /exists with a different configuration/);
  });

  it("runs DAPO, PVPO, V0.5 and ReVal with their own rules", async () => {
    const file = config(
      [
        { run_id: "dapo-e2e", algorithm: "dapo", rollouts_per_prompt: 8 },
        { run_id: "pvpo-e2e", algorithm: "pvpo", pvpo: { reference_rollouts: 4, hard_prompts: "skip" } },
        { run_id: "v05-e2e", algorithm: "v05" },
        { run_id: "reval-e2e", algorithm: "reval", reval: { reference_reset_every: 2 }, steps: 4 },
      ],
      { steps: 2 },
    );
    const runs = await train(file, {
      progress: recorder().sink,
      afterRuns: async (stack) => {
        const replay = new ReplayServiceClient(stack!.sharedAddress("replay"), credentials.createInsecure());
        const value = new ValueServiceClient(stack!.sharedAddress("value"), credentials.createInsecure());
        try {
          // ReVal: after the reset at step 3, the buffer holds only steps 3 and 4 (sampled by versions 4 and 6).
          const stats = await unary(replay.getStats.bind(replay), { runId: "reval-e2e" });
          assert.deepEqual(
            stats.versions.map((v) => Number(v.policyVersion)),
            [4, 6],
          );
          // V0.5: the value service holds the outcomes of both steps as context.
          const context = await unary(value.getContext.bind(value), { policyId: "v05-e2e" });
          assert.equal(context.size, 16);
        } finally {
          replay.close();
          value.close();
        }
      },
    });
    assert.deepEqual(
      runs.map((r) => r.status),
      ["completed", "completed", "completed", "completed"],
    );

    // DAPO: only groups with mixed outcomes are trained; the dropped ones still cost rollouts.
    const dapo = await store.stepsOf("dapo-e2e");
    for (const s of dapo) {
      assert.equal(s.zeroAdvantageFraction, 0);
      // Every drawn prompt was sampled; informative groups beyond the batch size are cut, not trained.
      assert.equal(s.rollouts, s.promptsDrawn * 8);
      assert.ok(s.promptsTrained <= 8 && s.promptsTrained + s.droppedGroups <= s.promptsDrawn);
    }

    // PVPO: M reference rollouts on every training prompt, counted apart from the policy's.
    const pvpo = (await store.getRun("pvpo-e2e"))!;
    assert.equal(pvpo.referenceRollouts, 4 * 64);
    assert.equal(pvpo.referencePolicyId, "pvpo-e2e/ref@0");
    for (const s of await store.stepsOf("pvpo-e2e")) assert.equal(s.cumulativeReferenceRollouts, 4 * 64);

    // V0.5: priors, a test verdict per prompt, at least k_init rollouts each; the second step has context.
    const v05 = await store.stepsOf("v05-e2e");
    for (const s of v05) {
      assert.ok(s.priorRejectionRate !== null && s.priorRejectionRate >= 0 && s.priorRejectionRate <= 1);
      assert.equal(s.rollouts, 8 * 4 + s.extraRollouts);
      assert.ok(s.rolloutsPerPrompt <= 16);
    }
    assert.equal(v05[0]!.valueContextSize, 0);
    assert.equal(v05[1]!.valueContextSize, 8);

    // ReVal: K = 2 updates a step (fresh, then replayed); the reference moves to the current policy after 2 steps.
    const reval = await store.stepsOf("reval-e2e");
    assertStepsOnce(reval, 4, 2);
    for (const s of reval) {
      assert.equal(s.updates, 2);
      assert.equal(s.replayedFraction, 0.5);
    }
    assert.ok(reval[1]!.meanStaleness! > 0);
    assert.equal((await store.getRun("reval-e2e"))!.revalReferenceVersion, 4);
  });

  it("runs against remote services by address, and refuses a learner that serves another run", async () => {
    const mongo = { MONGODB_URI: db.uri, MONGODB_DATABASE: db.database };
    const token = "remote-secret";
    const processes: ServiceProcess[] = [];
    try {
      const rollout = await startServiceProcess("rollout", { ROLLOUT_INTRA_OP_THREADS: "1", AUTH_TOKEN: token });
      processes.push(rollout);
      const starting = await Promise.allSettled([
        startServiceProcess("learner", { ...mongo, AUTH_TOKEN: token, LEARNER_RUN_ID: "remote-run", LEARNER_ROLLOUT_ADDRESSES: rollout.address, LEARNER_CHECKPOINT_EVERY: "1", LEARNER_INTRA_OP_THREADS: "1" }),
        startServiceProcess("reward", { AUTH_TOKEN: token, REWARD_HTTP_PORT: "-1" }),
        startServiceProcess("baseline", { ...mongo, AUTH_TOKEN: token }),
      ]);
      for (const s of starting) if (s.status === "fulfilled") processes.push(s.value);
      const failed = starting.find((s): s is PromiseRejectedResult => s.status === "rejected");
      if (failed) throw failed.reason;
      const [learner, reward, baseline] = processes.slice(1);
      process.env.VALOR_TEST_TOKEN = token;
      const remote = (runId: string) =>
        parseTrainConfig({
          services: {
            mode: "remote",
            mongodb_uri: db.uri,
            database: db.database,
            data_dir: dataDir,
            auth_token_env: "VALOR_TEST_TOKEN",
            addresses: { rollout: rollout.address, learner: learner!.address, reward: reward!.address, baseline: baseline!.address },
          },
          run_id: runId,
          algorithm: "rloo",
          steps: 2,
          prompts_per_step: 4,
          task: { train_prompts: 16, eval_prompts: 8, eval_samples: 1, eval_every: 0 },
        });
      const [run] = await train(remote("remote-run"), { progress: recorder().sink });
      assert.equal(run!.status, "completed");
      assertStepsOnce(await store.stepsOf("remote-run"), 2);
      await assert.rejects(train(remote("another-run"), { progress: recorder().sink }), /serves run remote-run, not another-run/);
    } finally {
      delete process.env.VALOR_TEST_TOKEN;
      for (const p of processes.reverse()) await p.stop();
    }
  });

  it("leaves no service behind when the controller is SIGKILLed, and the next valor train stops the leftover FerretDB and resumes", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "valor-train-kill-"));
    const raw = {
      services: { data_dir: dir, onnx_threads: 1 },
      run_id: "grpo-killed",
      algorithm: "grpo",
      steps: 3,
      prompts_per_step: 4,
      seed: 3,
      task: { train_prompts: 16, eval_prompts: 8, eval_samples: 1, eval_every: 0 },
    };
    const file = path.join(dir, "train.yaml");
    fs.writeFileSync(file, JSON.stringify(raw)); // JSON is YAML
    try {
      // The controller in its own process (local mode: its own FerretDB), killed once step 1 is recorded.
      const controller = spawn(process.execPath, [path.join(repoRoot(), "dist", "services", "trainer", "cli", "valor.js"), "train", "--config", file], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      const exited = new Promise((resolve) => controller.once("exit", resolve));
      await new Promise<void>((resolve, reject) => {
        readline.createInterface({ input: controller.stderr! }).on("line", (line) => /\bstep 1: reward/.test(line) && resolve());
        void exited.then(() => reject(new Error("valor train exited before step 1")));
      });
      controller.kill("SIGKILL");
      await exited;

      const servicePids = fs
        .readdirSync(path.join(dir, "logs"))
        .flatMap((f) => fs.readFileSync(path.join(dir, "logs", f), "utf8").split("\n"))
        .filter((l) => l.includes('"message":"listening"'))
        .map((l) => (JSON.parse(l) as { pid: number }).pid);
      assert.equal(servicePids.length, 4, "reward, baseline, rollout and learner were listening");
      for (const pid of servicePids) assert.ok(await waitForExit(pid, 30_000), `service process ${pid} outlived the controller`);
      const { ferretdb } = JSON.parse(fs.readFileSync(path.join(dir, "ferretdb", "ferretdb.pid"), "utf8")) as { ferretdb: number };
      assert.ok(processAlive(ferretdb), "FerretDB is the one process left");

      const seen = recorder();
      const [run] = await train(parseTrainConfig(raw), { progress: seen.sink });
      assert.ok(!processAlive(ferretdb), "the leftover FerretDB was stopped");
      assert.equal(run!.status, "completed");
      assert.equal(run!.completedSteps, 3);
      assert.equal(run!.resumes, 1);
      assert.ok(seen.steps.every((s) => s.step >= 2), `steps ${seen.steps.map((s) => s.step).join(",")}: step 1 was not repeated`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a bad configuration with every problem by field path", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "valor-train-config-"));
    try {
      const file = path.join(dir, "bad.yaml");
      fs.writeFileSync(file, "defaults: { steps: 0 }\nruns:\n  - algorithm: gpro\n  - algorithm: v05\n    rollouts_per_prompt: 8\n    v05: { k_max: 4 }\n");
      const errors: string[] = [];
      const write = process.stderr.write.bind(process.stderr);
      process.stderr.write = ((chunk: string) => errors.push(String(chunk)) > 0) as typeof process.stderr.write;
      let code: number;
      try {
        code = await valor(["train", "--config", file]);
      } finally {
        process.stderr.write = write;
      }
      assert.equal(code, 2);
      const text = errors.join("");
      assert.match(text, /runs\[0\]\.algorithm: .*"grpo"\|"dr_grpo"\|"rloo"\|"dapo"\|"pvpo"\|"v05"\|"reval"/);
      assert.match(text, /runs\[0\]\.steps: /);
      assert.match(text, /runs\[1\]\.v05\.k_max: must be at least rollouts_per_prompt/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
