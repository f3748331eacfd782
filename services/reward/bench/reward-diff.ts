// Differential check against Hugging Face Math-Verify on the generated
// GSM8K/MATH-500 cases: runs both verifiers and prints where they disagree,
// grouped by (source/form, Valor verdict, Math-Verify verdict), with examples.
// Run: python3 -m pip install math-verify && node dist/services/reward/bench/reward-diff.js
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { ComputeEngineCas } from "../src/domain/cas";
import { DEFAULT_SETTINGS } from "../src/domain/settings";
import { verifyItem } from "../src/domain/verify";
import { generateCases, TESTDATA, type Case } from "../test/real-cases";

/** Math-Verify's and Hendrycks' own test cases (testdata/verifier-cases.jsonl), as responses. */
function verifierCases(): Case[] {
  return fs
    .readFileSync(path.join(TESTDATA, "verifier-cases.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as { id: string; gold: string; pred: string; equivalent: boolean; pred_kind: string; disputed: boolean })
    .filter((r) => !r.disputed)
    .map((r) => ({
      id: `vc/${r.id}`,
      source: "math500" as const,
      form: `verifier-cases:${r.pred_kind}`,
      response: r.pred_kind === "bare" && !r.pred.includes("$") ? `The answer is $${r.pred}$.` : r.pred,
      gold: r.gold.replace(/^\$+|\$+$/g, ""),
      expected: r.equivalent ? ("CORRECT" as const) : ("WRONG" as const),
    }));
}

const PYTHON = process.env.PYTHON ?? "python3";
const SCRIPT = path.join(__dirname, "..", "..", "..", "..", "services", "reward", "bench", "math_verify_diff.py");

function main(): void {
  const cases = [...generateCases(), ...verifierCases()];
  const input = cases.map((c) => JSON.stringify({ id: c.id, response: c.response, gold: c.gold })).join("\n") + "\n";
  const started = Date.now();
  const py = spawnSync(PYTHON, [SCRIPT], { input, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  if (py.status !== 0) {
    console.error(py.stderr);
    console.error(`${PYTHON} ${SCRIPT} failed (is math-verify installed? python3 -m pip install math-verify)`);
    process.exit(1);
  }
  const mvSeconds = (Date.now() - started) / 1000;
  const mv = new Map<string, { mv: string; extracted: string }>();
  for (const line of py.stdout.split("\n")) if (line.trim()) {
    const r = JSON.parse(line) as { id: string; mv: string; extracted: string };
    mv.set(r.id, r);
  }

  const cas = new ComputeEngineCas();
  const t = Date.now();
  const groups = new Map<string, { n: number; examples: string[] }>();
  let agree = 0;
  let valorRight = 0;
  let mvRight = 0;
  for (const c of cases) {
    const v = verifyItem({ id: c.id, response: c.response, gold: c.gold, taskKind: "math" }, DEFAULT_SETTINGS, cas);
    const m = mv.get(c.id)!;
    const valorOk = v.status === c.expected;
    const mvOk = m.mv === c.expected;
    if (valorOk) valorRight++;
    if (mvOk) mvRight++;
    if (v.status === m.mv) {
      agree++;
      continue;
    }
    const key = `${c.id.startsWith("vc/") ? "" : `${c.source}/`}${c.form} expected=${c.expected} valor=${v.status} math-verify=${m.mv}`;
    const g = groups.get(key) ?? { n: 0, examples: [] };
    g.n++;
    if (g.examples.length < 3) g.examples.push(`gold ${JSON.stringify(c.gold)} | valor: ${v.reason} | mv extracted ${JSON.stringify(m.extracted)}`);
    groups.set(key, g);
  }
  const valorSeconds = (Date.now() - t) / 1000;
  const pct = (n: number) => `${n}/${cases.length} = ${((100 * n) / cases.length).toFixed(2)}%`;
  console.log(`cases: ${cases.length} (GSM8K test + MATH-500 golds, equivalent forms and perturbed wrong answers)`);
  console.log(`agreement Valor vs Math-Verify: ${pct(agree)}`);
  console.log(`matches the expected verdict: Valor ${pct(valorRight)}; Math-Verify ${pct(mvRight)}`);
  console.log(`time: Math-Verify ${mvSeconds.toFixed(1)} s (python, sequential); Valor ${valorSeconds.toFixed(1)} s (one thread, in-process)`);
  console.log("\ndisagreements (count, class, up to 3 examples):");
  for (const [key, g] of [...groups].sort((a, b) => b[1].n - a[1].n)) {
    console.log(`${String(g.n).padStart(5)}  ${key}`);
    for (const e of g.examples) console.log(`         ${e.slice(0, 300)}`);
  }
}

main();
