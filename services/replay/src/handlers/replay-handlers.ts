// ReplayService handlers: validate, call the replay manager, convert the result.
import { InvalidArgumentError } from "../../../../shared/errors";
import {
  TrajectoryState,
  type ExportRequest,
  type ExportResponse,
  type ReplayServiceService,
  type RunInfo,
  type SampleRequest,
  type SampleResponse,
  type StoredTrajectory,
} from "../../../../shared/gen/valor/replay/v1/replay.pb";
import type { CallContext, ServerStreamHandler, UnaryHandlers } from "../../../../shared/grpc/handlers";
import { requireCountAtMost, requireId, requireNonEmpty } from "../../../../shared/validation";
import type { ReplayManager, RunSummary, StoredRecord, TrajectoryStateName } from "../domain/replay";
import { drawnSampleResponse } from "./sample-serializer";
import { filterOf, requireCapacity, safeNumber, validateTrajectory, viewOf, type Limits, type ViewName } from "./validate";

export interface ReplayDeps {
  manager: ReplayManager;
  limits: Limits;
}

type Unary = Omit<typeof ReplayServiceService, "export" | "sample">;

const DEFAULT_QUERY_LIMIT = 100;

const stateToProto: Record<TrajectoryStateName, TrajectoryState> = {
  live: TrajectoryState.TRAJECTORY_STATE_LIVE,
  evicted: TrajectoryState.TRAJECTORY_STATE_EVICTED,
  stale: TrajectoryState.TRAJECTORY_STATE_STALE,
};

export function runInfo(s: RunSummary): RunInfo {
  return { runId: s.runId, capacity: s.capacity, size: s.size, epoch: BigInt(s.epoch), resetId: s.resetId, nextSeq: BigInt(s.nextSeq) };
}

export function toStored(r: StoredRecord, view: ViewName): StoredTrajectory {
  const t = r.trajectory;
  return {
    runId: r.runId,
    step: BigInt(r.step),
    index: r.index,
    seq: BigInt(r.seq),
    epoch: BigInt(r.epoch),
    state: stateToProto[r.state],
    reuseCount: r.reuse,
    insertedAtUnixMs: BigInt(r.insertedAt),
    trajectory:
      view === "full"
        ? t
        : view === "metadata"
          ? { ...t, promptTokenIds: [], responseTokenIds: [], responseLogprobs: [], promptText: "", responseText: "" }
          : undefined,
  };
}

export function createReplayHandlers(deps: ReplayDeps): UnaryHandlers<Unary> & {
  export: ServerStreamHandler<ExportRequest, ExportResponse>;
  sample: ServerStreamHandler<SampleRequest, SampleResponse>;
} {
  const { manager, limits } = deps;
  return {
    async configureRun(request) {
      const runId = requireId(request.runId, "run_id");
      const capacity = requireCapacity(request.capacity, limits);
      const r = await manager.configureRun(runId, capacity);
      return { run: runInfo(r.run), created: r.created, evicted: r.evicted };
    },

    async listRuns() {
      return { runs: (await manager.listRuns()).map(runInfo) };
    },

    async append(request) {
      const runId = requireId(request.runId, "run_id");
      const step = safeNumber(request.step, "step");
      const n = request.trajectories.length;
      requireNonEmpty(n, "trajectories", "trajectory");
      requireCountAtMost(n, limits.maxAppendBatch, "trajectories", "REPLAY_MAX_APPEND_BATCH");
      if (request.startIndex + n > 0xffff_ffff) {
        throw new InvalidArgumentError("start_index", `start_index + trajectories (${request.startIndex} + ${n}) must fit in uint32`);
      }
      const expectedResetId = request.expectedResetId === "" ? "" : requireId(request.expectedResetId, "expected_reset_id");
      for (let i = 0; i < n; i++) validateTrajectory(request.trajectories[i]!, `trajectories[${i}]`, limits);
      const r = await manager.append({ runId, step, startIndex: request.startIndex, trajectories: request.trajectories, expectedResetId });
      return { appended: r.appended, duplicate: r.duplicate, firstSeq: BigInt(r.firstSeq), count: r.count, evicted: r.evicted, run: runInfo(r.run) };
    },

    // Sends the drawn trajectories while the draw's ledger insert is in flight, and ends
    // with OK only once it is acknowledged (UNAVAILABLE otherwise): see the server's binding.
    async sample(request: SampleRequest, _ctx: CallContext, write: (r: SampleResponse) => Promise<void>) {
      const runId = requireId(request.runId, "run_id");
      if (request.batchSize < 1) throw new InvalidArgumentError("batch_size", `must be at least 1, got ${request.batchSize}`);
      if (request.batchSize > limits.maxSample) {
        throw new InvalidArgumentError("batch_size", `must be at most ${limits.maxSample} (REPLAY_MAX_SAMPLE), got ${request.batchSize}`);
      }
      const minPolicyVersion =
        request.minPolicyVersion === undefined ? undefined : BigInt(safeNumber(request.minPolicyVersion, "min_policy_version"));
      const draw = await manager.drawSample({
        runId,
        batchSize: request.batchSize,
        withReplacement: request.withReplacement,
        seed: request.seed,
        minPolicyVersion,
      });
      // Measured and planned from the draw's numbers; the serializer splices each trajectory's
      // cached bytes in instead of encoding it again.
      const response = drawnSampleResponse(runId, draw.entries, draw.reuse, draw.eligible, runInfo(draw.run), (i) => toStored(draw.record(i), "full"));
      const sent = write(response);
      await draw.committed;
      await sent;
    },

    async flush(request) {
      const runId = requireId(request.runId, "run_id");
      const resetId = requireId(request.resetId, "reset_id");
      const r = await manager.flush(runId, resetId);
      return { flushed: r.flushed, alreadyApplied: r.alreadyApplied, epoch: BigInt(r.epoch), run: runInfo(r.run) };
    },

    async getStats(request) {
      const runId = requireId(request.runId, "run_id");
      const { run, stats, samplesDrawn, appendedTotal } = await manager.stats(runId);
      return {
        run: runInfo(run),
        rewardMean: stats.rewardMean,
        rewardStd: stats.rewardStd,
        rewardMin: stats.rewardMin,
        rewardMax: stats.rewardMax,
        oldestSeq: BigInt(stats.oldestSeq),
        newestSeq: BigInt(stats.newestSeq),
        versions: stats.versions,
        reuseHistogram: stats.reuseHistogram,
        samplesDrawn: BigInt(samplesDrawn),
        appendedTotal: BigInt(appendedTotal),
      };
    },

    async query(request) {
      const { runId, scope, filter } = filterOf(request.filter);
      const view = viewOf(request.view);
      const limit = request.limit === 0 ? DEFAULT_QUERY_LIMIT : request.limit;
      if (limit > limits.maxQueryLimit) {
        throw new InvalidArgumentError("limit", `must be at most ${limits.maxQueryLimit} (REPLAY_MAX_QUERY_LIMIT), got ${limit}`);
      }
      const afterSeq =
        request.startSeq !== 0n ? safeNumber(request.startSeq, "start_seq") - 1 : request.afterSeq === 0n ? -1 : safeNumber(request.afterSeq, "after_seq");
      const r = await manager.query(runId, scope, filter, afterSeq, limit);
      const last = r.records[r.records.length - 1];
      return {
        trajectories: r.records.map((x) => toStored(x, view)),
        hasMore: r.hasMore,
        nextAfterSeq: r.hasMore && last ? BigInt(last.seq) : 0n,
        nextStartSeq: r.hasMore && last ? BigInt(last.seq) + 1n : 0n,
      };
    },

    async export(request: ExportRequest, ctx: CallContext, write: (r: ExportResponse) => Promise<void>) {
      const { runId, scope, filter } = filterOf(request.filter);
      const view = viewOf(request.view);
      for await (const r of manager.scan(runId, scope, filter, -1)) {
        if (ctx.signal.aborted) return;
        await write({ trajectory: toStored(r, view) });
      }
    },
  };
}
