// The learner's GridFS checkpoints against a real database: retention keeps
// exactly the newest N of a run (and only of that run), resume reads the newest.
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { openTestDatabase, type TestDatabase } from "../../../shared/testing/database";
import { CheckpointStore } from "../src/store/checkpoint-store";

const N = 500;
let db: TestDatabase;

const state = (step: number) => {
  const fill = (k: number) => Float32Array.from({ length: N }, (_, i) => step + k + i * 1e-3);
  return { step: BigInt(step), params: fill(0), adamM: fill(1), adamV: fill(2), adamStep: step };
};

before(async () => {
  db = await openTestDatabase();
});

after(async () => {
  await db?.close();
});

const storedSteps = async (runId: string) =>
  (await db.client.db(db.database).collection("checkpoints.files").find({ "metadata.runId": runId }).toArray()).map((f) => f.metadata!.step as number).sort((a, b) => a - b);

it("keeps the newest N checkpoints of the run, deletes the older ones with their chunks, and resumes from the newest", async () => {
  const errors: unknown[] = [];
  const store = new CheckpointStore(db.client.db(db.database), { keep: 2, onPruneError: (e) => errors.push(e) });
  const other = new CheckpointStore(db.client.db(db.database));
  await other.save("other-run", state(1), undefined);
  for (const step of [1, 2, 3, 4, 5]) await store.save("kept-run", state(step), undefined);
  assert.deepEqual(errors, []);
  assert.deepEqual(await storedSteps("kept-run"), [4, 5]);
  assert.deepEqual(await storedSteps("other-run"), [1]);
  const files = await db.client.db(db.database).collection("checkpoints.files").find().toArray();
  const chunkOwners = await db.client.db(db.database).collection("checkpoints.chunks").distinct("files_id");
  assert.deepEqual(chunkOwners.map(String).sort(), files.map((f) => String(f._id)).sort());
  const latest = await store.latest("kept-run");
  assert.equal(latest!.meta.step, 5);
  assert.deepEqual(latest!.state.params, state(5).params);
});

it("keeps every checkpoint with keep 0", async () => {
  const store = new CheckpointStore(db.client.db(db.database), { keep: 0, onPruneError: (e) => assert.fail(String(e)) });
  for (const step of [1, 2, 3, 4]) await store.save("all-run", state(step), undefined);
  assert.deepEqual(await storedSteps("all-run"), [1, 2, 3, 4]);
});
