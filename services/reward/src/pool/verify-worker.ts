// Worker-thread entry: verifies one item with the CAS. Loaded by piscina; the
// CAS is created once per worker. A task that runs past its time limit is
// aborted by the pool, which terminates this thread and starts a fresh one.
import { ComputeEngineCas } from "../domain/cas";
import { verifyItem, type Outcome, type VerifyInput, type VerifySettings } from "../domain/verify";

export interface WorkerTask {
  input: VerifyInput;
  settings: VerifySettings;
}

const cas = new ComputeEngineCas();
// Warm the parser and evaluator so the first real task is not the slow one.
verifyItem(
  { id: "warm", response: "\\boxed{\\frac{\\sqrt{3}}{3}}", gold: "\\frac{1}{\\sqrt3}", taskKind: "math" },
  { strict: false, relativeTolerance: 1e-6, percentPolicy: "gold_decides", limits: { maxResponseChars: 1e4, maxAnswerChars: 1e3, maxNesting: 32, maxParts: 64 } },
  cas,
);

export default function verify(task: WorkerTask): Outcome {
  return verifyItem(task.input, task.settings, cas);
}
