// Shared by the replay integration tests: trajectories, a client, error checks.
import type { ReplayServiceClient, StoredTrajectory, Trajectory } from "../../../shared/gen/valor/replay/v1/replay.pb";
import { Scope, View } from "../../../shared/gen/valor/replay/v1/replay.pb";
import { unary } from "../../../shared/grpc/client";

export function trajectory(i: number, extra: Partial<Trajectory> = {}): Trajectory {
  return {
    promptId: `prompt-${i % 5}`,
    groupId: `group-${Math.floor(i / 4)}`,
    promptTokenIds: [101, 102, i % 50_000],
    responseTokenIds: [i % 50_000, 7, 8, 2],
    promptText: `What is ${i} + 1?`,
    responseText: `${i + 1}`,
    responseLogprobs: [-0.5, -0.25, -0.125, -1],
    reward: i % 3 === 0 ? 1 : 0,
    policyVersion: BigInt(Math.floor(i / 10)),
    refLogprobSum: -3.5,
    refValue: 0.5,
    createdAtUnixMs: 0n,
    ...extra,
  };
}

export const batch = (step: number, n: number, offset = 0) => Array.from({ length: n }, (_, i) => trajectory(step * 1000 + offset + i));

export { rejectsWithStatus as rejects } from "../../../shared/testing/grpc-assert";

export function api(client: ReplayServiceClient) {
  return {
    configure: (runId: string, capacity: number) => unary(client.configureRun.bind(client), { runId, capacity: BigInt(capacity) }),
    append: (runId: string, step: number, trajectories: Trajectory[], startIndex = 0, expectedResetId = "") =>
      unary(client.append.bind(client), { runId, step: BigInt(step), startIndex, trajectories, expectedResetId }, 30_000),
    sample: (runId: string, batchSize: number, seed?: number, withReplacement = false) =>
      unary(client.sample.bind(client), { runId, batchSize, withReplacement, seed: seed === undefined ? undefined : BigInt(seed) }),
    flush: (runId: string, resetId: string) => unary(client.flush.bind(client), { runId, resetId }),
    stats: (runId: string) => unary(client.getStats.bind(client), { runId }),
    /** Every trajectory of the run (paging through Query). */
    all: async (runId: string, scope = Scope.SCOPE_ALL): Promise<StoredTrajectory[]> => {
      const out: StoredTrajectory[] = [];
      let startSeq = 0n;
      for (;;) {
        const page = await unary(
          client.query.bind(client),
          { filter: { runId, scope, promptId: "", groupId: "" }, view: View.VIEW_SUMMARY, limit: 10_000, afterSeq: 0n, startSeq },
          30_000,
        );
        out.push(...page.trajectories);
        if (!page.hasMore) return out;
        startSeq = page.nextStartSeq;
      }
    },
  };
}
