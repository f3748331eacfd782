// Crash and outage: kill -9 of the service in the middle of concurrent appends
// and draws, restart on the same database, nothing acknowledged is lost and
// nothing is stored twice; a database outage answers UNAVAILABLE, loses
// nothing acknowledged, and the service recovers by itself.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { ReplayServiceClient, Scope, TrajectoryState } from "../../../shared/gen/valor/replay/v1/replay.pb";
import { openTestDatabase, type TestDatabase } from "../../../shared/testing/database";
import { startServiceProcess, type ServiceProcess } from "../../../shared/local/service-process";
import { api, batch, rejects } from "./helpers";

let db: TestDatabase;
let service: ServiceProcess;
let client: ReplayServiceClient;

async function start(): Promise<ReturnType<typeof api>> {
  // A no-op for a killed process; otherwise the previous one is stopped, never leaked.
  await service?.stop();
  service = await startServiceProcess("replay", {
    MONGODB_URI: db.uri,
    MONGODB_DATABASE: db.database,
    MONGODB_SERVER_SELECTION_TIMEOUT_MS: "500",
  });
  client?.close();
  client = new ReplayServiceClient(service.address, credentials.createInsecure());
  return api(client);
}

before(async () => {
  db = await openTestDatabase();
});

after(async () => {
  client?.close();
  await service?.stop();
  await db?.close();
});

const CAPACITY = 150;
const SIZE = 16;

describe("kill -9 mid-append", () => {
  it("loses no acknowledged append or draw, and retries after the restart store each trajectory once", async () => {
    let r = await start();
    await r.configure("crash", CAPACITY);
    const acked = new Map<number, bigint>(); // step -> first seq
    const attempted = new Set<number>();
    let draws = 0;
    let drawnTotal = 0;
    let killed = false;
    let ackedAtKill = -1;
    const appender = async (a: number) => {
      for (let k = 0; !killed; k++) {
        const step = a * 1000 + k;
        attempted.add(step);
        try {
          const res = await r.append("crash", step, batch(step, SIZE));
          acked.set(step, res.firstSeq);
        } catch (err) {
          if (!killed) throw err;
          assert.ok([status.UNAVAILABLE, status.CANCELLED, status.INTERNAL].includes((err as ServiceError).code), String(err));
        }
      }
    };
    const sampler = async () => {
      while (!killed) {
        try {
          const res = await r.sample("crash", 8, undefined, false);
          draws++;
          drawnTotal += res.trajectories.length;
        } catch (err) {
          if (killed) return;
          // The buffer may not hold 8 yet.
          if ((err as ServiceError).code !== status.FAILED_PRECONDITION) throw err;
        }
      }
    };
    const killer = (async () => {
      // Kill once a good number of appends were acknowledged, while more are in flight.
      while (acked.size < 24) await new Promise<void>((resolve) => setImmediate(resolve));
      killed = true;
      ackedAtKill = acked.size;
      await service.stop("SIGKILL");
    })();
    await Promise.all([appender(0), appender(1), appender(2), appender(3), sampler(), killer]);
    assert.equal(service.child.signalCode, "SIGKILL");
    assert.ok(ackedAtKill >= 24);

    r = await start();
    const history = await r.all("crash");
    const bySeq = new Map(history.map((t) => [Number(t.seq), t]));
    // Every acknowledged append is there, under the sequence numbers it was acknowledged with.
    for (const [step, firstSeq] of acked) {
      for (let i = 0; i < SIZE; i++) {
        const t = bySeq.get(Number(firstSeq) + i);
        assert.deepEqual([t?.step, t?.index], [BigInt(step), i], `step ${step} index ${i}`);
      }
    }
    // Draws acknowledged before the kill are all in the reuse counters of the trajectories still buffered:
    // at most the ones whose draws landed unacknowledged can be extra.
    const stats = await r.stats("crash");
    assert.ok(stats.samplesDrawn >= BigInt(draws), `${stats.samplesDrawn} >= ${draws}`);

    // The trainer retries everything it attempted: acknowledged ones come back as duplicates.
    for (const step of [...attempted].sort((x, y) => x - y)) {
      const res = await r.append("crash", step, batch(step, SIZE));
      if (acked.has(step)) assert.equal(res.duplicate, true, `step ${step} was acknowledged`);
    }
    const final = await r.all("crash");
    assert.equal(final.length, attempted.size * SIZE);
    assert.equal(new Set(final.map((t) => `${t.step}/${t.index}`)).size, attempted.size * SIZE, "no trajectory stored twice");
    assert.equal(new Set(final.map((t) => t.seq)).size, final.length, "sequence numbers unique");
    const live = final.filter((t) => t.state === TrajectoryState.TRAJECTORY_STATE_LIVE).map((t) => Number(t.seq));
    const newest = final.map((t) => Number(t.seq)).sort((x, y) => x - y).slice(-CAPACITY);
    assert.deepEqual(live, newest, "the buffer is exactly the newest M");
    assert.ok(drawnTotal >= 0);
  });
});

describe("database outage", () => {
  it("answers UNAVAILABLE while the database is down, loses nothing acknowledged, and recovers", async () => {
    const ferret = db.ferret;
    if (!ferret) return; // an external MONGODB_URI cannot be stopped from here
    let r = await start();
    await r.configure("outage", 100);
    await r.append("outage", 1, batch(1, 20));
    await r.sample("outage", 5, 1);
    const before = await r.all("outage", Scope.SCOPE_BUFFER);
    await ferret.stop();
    await rejects(r.append("outage", 2, batch(2, 20)), status.UNAVAILABLE);
    await rejects(r.sample("outage", 5, 2), status.UNAVAILABLE);
    await rejects(r.flush("outage", "reset-1"), status.UNAVAILABLE);
    await rejects(r.stats("never-loaded"), status.UNAVAILABLE);
    await ferret.restart();
    // The retried append goes through once; what was acknowledged before is intact.
    const retried = await r.append("outage", 2, batch(2, 20));
    assert.equal(retried.run?.size, 40);
    assert.equal((await r.append("outage", 2, batch(2, 20))).duplicate, true);
    const after = await r.all("outage", Scope.SCOPE_BUFFER);
    assert.deepEqual(after.slice(0, 20).map((t) => [t.seq, t.reuseCount]), before.map((t) => [t.seq, t.reuseCount]));
    assert.equal((await r.sample("outage", 5, 2)).trajectories.length, 5);
    // And a restarted service sees the same.
    await service.stop();
    r = await start();
    const reloaded = await r.all("outage", Scope.SCOPE_BUFFER);
    assert.equal(reloaded.length, 40);
    assert.equal(reloaded.reduce((s, t) => s + t.reuseCount, 0), 10);
  });
});
