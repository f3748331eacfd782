// Progress of a training run: a live bar on a terminal (cli-progress), plain
// log lines otherwise (CI, pipes, files).
import { SingleBar } from "cli-progress";
import type { ProgressSink } from "./controller";
import type { EvalRecord, StepRecord } from "./domain/records";
import type { StoredRun } from "./store/run-store";

const pct = (x: number | null | undefined) => (x === null || x === undefined ? "–" : `${(100 * x).toFixed(1)}%`);

interface Totals {
  reward: number;
  evalAccuracy: number | null;
  rollouts: number;
  perPrompt: number;
  rejection: number | null;
}

export function createProgress(out: NodeJS.WriteStream = process.stderr): ProgressSink {
  return out.isTTY ? new TerminalProgress(out) : new LineProgress(out);
}

class LineProgress implements ProgressSink {
  private label = "";
  private total = 0;
  /** Steps done and wall time at the start of this session, for the ETA. */
  private firstStep = 0;
  private startedAt = 0;
  constructor(private readonly out: NodeJS.WritableStream) {}

  private eta(step: number): string {
    const done = step - this.firstStep;
    if (done <= 0) return "";
    const seconds = ((performance.now() - this.startedAt) / 1000 / done) * (this.total - step);
    return `, ETA ${seconds < 90 ? `${seconds.toFixed(0)} s` : `${(seconds / 60).toFixed(1)} min`}`;
  }

  private line(text: string): void {
    this.out.write(`[${new Date().toISOString().slice(11, 19)}] ${this.label}: ${text}\n`);
  }

  begin(run: StoredRun): void {
    this.label = `${run.label} (${run.runId})`;
    this.total = run.steps;
    this.firstStep = run.completedSteps;
    this.startedAt = performance.now();
    this.line(run.completedSteps > 0 ? `resuming after step ${run.completedSteps} of ${run.steps}` : `starting, ${run.steps} steps`);
  }

  step(r: StepRecord): void {
    this.line(
      `step ${r.step}: reward ${r.meanReward.toFixed(3)}, rollouts ${r.rollouts} (${r.rolloutsPerPrompt.toFixed(2)}/prompt, ${r.cumulativeRollouts} total)` +
        (r.priorRejectionRate === null ? "" : `, prior rejected ${pct(r.priorRejectionRate)}`) +
        (r.droppedGroups > 0 ? `, dropped ${r.droppedGroups} groups` : "") +
        `, ${r.stepSeconds.toFixed(2)} s${this.eta(r.step)}`,
    );
  }

  evaluation(e: EvalRecord): void {
    this.line(`eval after step ${e.step}: held-out mean@${e.samplesPerPrompt} ${pct(e.accuracy)}, greedy ${pct(e.greedyAccuracy)}; training pool mean@${e.samplesPerPrompt} ${pct(e.trainPoolAccuracy)}`);
  }

  note(message: string): void {
    this.line(message);
  }

  end(run: StoredRun): void {
    this.line(`${run.status} after ${run.completedSteps} steps, ${run.wallSeconds.toFixed(1)} s`);
  }
}

class TerminalProgress implements ProgressSink {
  private bar: SingleBar | undefined;
  private totals: Totals = { reward: 0, evalAccuracy: null, rollouts: 0, perPrompt: 0, rejection: null };

  constructor(private readonly out: NodeJS.WriteStream) {}

  begin(run: StoredRun): void {
    this.bar = new SingleBar({
      stream: this.out,
      format: `${run.label.padEnd(14)} {bar} {value}/{total} steps | reward {reward} | eval {eval} | rollouts {rollouts} ({perPrompt}/prompt) | prior rejected {rejection} | ETA {eta_formatted}`,
      barsize: 24,
      hideCursor: true,
      etaBuffer: 20,
    });
    this.bar.start(run.steps, run.completedSteps, this.payload());
  }

  private payload() {
    const t = this.totals;
    return { reward: t.reward.toFixed(3), eval: pct(t.evalAccuracy), rollouts: t.rollouts, perPrompt: t.perPrompt.toFixed(2), rejection: pct(t.rejection) };
  }

  step(r: StepRecord): void {
    this.totals = { ...this.totals, reward: r.meanReward, rollouts: r.cumulativeRollouts, perPrompt: r.rolloutsPerPrompt, rejection: r.priorRejectionRate };
    this.bar?.update(r.step, this.payload());
  }

  evaluation(e: EvalRecord): void {
    this.totals.evalAccuracy = e.accuracy;
    this.bar?.update(this.payload());
  }

  note(message: string): void {
    // Above the bar, which is redrawn below it.
    this.out.write(`\r\x1b[2K${message}\n`);
    this.bar?.render();
  }

  end(run: StoredRun): void {
    this.bar?.stop();
    this.out.write(`${run.label}: ${run.status} after ${run.completedSteps} steps, ${run.wallSeconds.toFixed(1)} s\n`);
  }
}
