// The learner's checkpoints against a real database: retention keeps
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
  (await db.client.db(db.database).collection("checkpoints").find({ runId }).toArray()).map((d) => d.step as number).sort((a, b) => a - b);

const partCollectionNames = async () =>
  (await db.client.db(db.database).listCollections().toArray()).map((c) => c.name).filter((name) => name.startsWith("checkpoint_parts."));

it("keeps the newest N checkpoints of the run, deletes the older ones with their parts, and resumes from the newest", async () => {
  const errors: unknown[] = [];
  const store = new CheckpointStore(db.client.db(db.database), { keep: 2, onPruneError: (e) => errors.push(e) });
  const other = new CheckpointStore(db.client.db(db.database));
  await other.save("other-run", state(1), undefined);
  for (const step of [1, 2, 3, 4, 5]) await store.save("kept-run", state(step), undefined);
  assert.deepEqual(errors, []);
  assert.deepEqual(await storedSteps("kept-run"), [4, 5]);
  assert.deepEqual(await storedSteps("other-run"), [1]);
  const checkpoints = await db.client.db(db.database).collection<{ _id: string; collection: string }>("checkpoints").find().toArray();
  // Every stored part belongs to a listed checkpoint: the deleted ones' collections are gone.
  assert.deepEqual((await partCollectionNames()).sort(), checkpoints.map((c) => c.collection).sort());
  const latest = await store.latest("kept-run");
  assert.equal(latest!.meta.step, 5);
  assert.deepEqual(latest!.state.params, state(5).params);
});

it("drops the parts of a save cut short before its document was written, on the run's next save", async () => {
  const store = new CheckpointStore(db.client.db(db.database), { keep: 2, onPruneError: (e) => assert.fail(String(e)) });
  await store.save("cut-run", state(1), undefined);
  const [doc] = await db.client.db(db.database).collection<{ collection: string }>("checkpoints").find({ runId: "cut-run" }).toArray();
  const orphan = `${doc!.collection.slice(0, doc!.collection.lastIndexOf(".") + 1)}orphan`;
  await db.client.db(db.database).collection<{ _id: number; data: Buffer }>(orphan).insertOne({ _id: 0, data: Buffer.alloc(8) });
  await store.save("cut-run", state(2), undefined);
  const names = await partCollectionNames();
  assert.ok(!names.includes(orphan), "the orphaned parts are dropped");
  assert.ok(names.includes(doc!.collection), "a kept checkpoint's parts stay");
  assert.equal((await store.latest("cut-run"))!.meta.step, 2);
});

it("stores a checkpoint larger than one part in parts, and refuses one with a part missing", async () => {
  const big = 100_000; // 1.2 MB: two parts
  const fill = (k: number) => Float32Array.from({ length: big }, (_, i) => k + i);
  const store = new CheckpointStore(db.client.db(db.database));
  await store.save("big-run", { step: 1n, params: fill(0), adamM: fill(1), adamV: fill(2), adamStep: 1 }, undefined);
  const loaded = await store.latest("big-run");
  assert.deepEqual(loaded!.state.adamV, fill(2));
  const [doc] = await db.client.db(db.database).collection<{ parts: number; collection: string }>("checkpoints").find({ runId: "big-run" }).toArray();
  assert.equal(doc!.parts, 2);
  await db.client.db(db.database).collection<{ _id: number }>(doc!.collection).deleteOne({ _id: 1 });
  await assert.rejects(store.latest("big-run"), /part 1 of 2 is missing/);
});

it("keeps every checkpoint with keep 0", async () => {
  const store = new CheckpointStore(db.client.db(db.database), { keep: 0, onPruneError: (e) => assert.fail(String(e)) });
  for (const step of [1, 2, 3, 4]) await store.save("all-run", state(step), undefined);
  assert.deepEqual(await storedSteps("all-run"), [1, 2, 3, 4]);
});
