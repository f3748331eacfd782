#!/usr/bin/env node
// `make study`: the baseline estimator study. Runs the grid, prints the
// headline table, and writes results.json, results.md, charts (SVG, PNG) and
// report.html into the output directory (default docs/study).
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { MIXES } from "./population";
import { DEFAULT_STUDY_OPTIONS, runStudy, type StudyOptions } from "./study";
import { headlineMarkdown, writeOutputs } from "./report";

export interface ParsedArgs {
  options: StudyOptions;
  out: string;
  png: boolean;
  quiet: boolean;
}

export async function parseArgs(argv: readonly string[]): Promise<ParsedArgs> {
  // commander is ESM-only: load it with import() from this CommonJS module.
  const { Command, InvalidArgumentError } = await import("commander");
  const positiveInt = (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
    return n;
  };
  const d = DEFAULT_STUDY_OPTIONS;
  const program = new Command()
    .name("study")
    .description("Baseline estimator study: V0.5 vs GRPO/RLOO/DAPO/PVPO/V0 in simulation, with the baseline service's own estimators.")
    .option("-o, --out <dir>", "output directory", "docs/study")
    .option("--seeds <n>", "independent seeds (confidence intervals are over seeds)", positiveInt, d.seeds)
    .option("--prompts <n>", "prompts per seed", positiveInt, d.prompts)
    .option("--batch-size <n>", "prompts per training batch (the budget rules plan per batch)", positiveInt, d.batchSize)
    .option("--base-seed <n>", "base random seed", positiveInt, d.baseSeed)
    .option("--mixes <list>", `comma-separated difficulty mixes (${Object.keys(MIXES).join(", ")})`, d.mixes.join(","))
    .option("--no-png", "skip PNG rendering")
    .option("-q, --quiet", "no progress output")
    .exitOverride();
  program.parse([...argv], { from: "user" });
  const o = program.opts<{ out: string; seeds: number; prompts: number; batchSize: number; baseSeed: number; mixes: string; png: boolean; quiet?: boolean }>();
  const mixes = o.mixes.split(",").map((m) => m.trim()).filter(Boolean);
  for (const m of mixes) if (!MIXES[m]) throw new InvalidArgumentError(`unknown mix ${m}; valid: ${Object.keys(MIXES).join(", ")}`);
  return {
    options: { ...d, seeds: o.seeds, prompts: o.prompts, batchSize: o.batchSize, baseSeed: o.baseSeed, mixes },
    out: resolve(o.out),
    png: o.png,
    quiet: Boolean(o.quiet),
  };
}

export async function main(argv: readonly string[]): Promise<void> {
  const { options, out, png, quiet } = await parseArgs(argv);
  const t0 = process.hrtime.bigint();
  const result = runStudy(options, quiet ? undefined : (msg) => process.stderr.write(`  ${msg}\n`));
  const tSim = Number(process.hrtime.bigint() - t0) / 1e9;
  const verdictPath = join(out, "VERDICT.md");
  const verdict = existsSync(verdictPath) ? readFileSync(verdictPath, "utf8") : undefined;
  const { files } = writeOutputs(result, out, { png, verdictMarkdown: verdict });
  const tAll = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(`${headlineMarkdown(result)}\n\n`);
  process.stdout.write(`MSE on the pass-rate scale [0,1]; ± = 95% t interval over ${options.seeds} seeds.\n`);
  process.stdout.write(`simulation ${tSim.toFixed(1)} s, total ${tAll.toFixed(1)} s; wrote ${files.length} files to ${out}\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version") process.exit(0);
    if (!e.code?.startsWith("commander.")) process.stderr.write(`study: ${e.message ?? String(err)}\n`);
    process.exit(e.exitCode ?? 1);
  });
}
