// `valor report`: reads recorded runs from MongoDB and writes the training
// report (HTML with charts, PNG/SVG charts, Markdown and JSON) into a folder.
import path from "node:path";
import { MongoClient } from "mongodb";
import { ConfigError } from "../../../shared/config";
import { startFerretDb, type FerretDb } from "../../../shared/local/ferretdb";
import { loadTrainConfig } from "../src/config";
import { writeTrainingReport, type TrainingRunData } from "../src/report/report";
import { RunStore } from "../src/store/run-store";

export interface ReportSource {
  /** A MongoDB to read; otherwise the local FerretDB data of `valor train` in dataDir is opened. */
  mongodbUri?: string;
  dataDir: string;
  database: string;
}

/** Loads runs (all recorded runs when runIds is empty), in the order given. */
export async function loadRuns(source: ReportSource, runIds: readonly string[]): Promise<TrainingRunData[]> {
  let ferret: FerretDb | undefined;
  if (!source.mongodbUri) ferret = await startFerretDb({ dataDir: path.join(source.dataDir, "ferretdb") });
  const mongo = new MongoClient(source.mongodbUri ?? ferret!.uri, { serverSelectionTimeoutMS: 10_000 });
  try {
    const store = new RunStore(mongo.db(source.database));
    const ids = runIds.length > 0 ? runIds : (await store.listRuns()).map((r) => r.runId);
    const out: TrainingRunData[] = [];
    for (const id of ids) {
      const run = await store.getRun(id);
      if (!run) throw new ConfigError([`run ${id}: not found in ${source.mongodbUri ? "the database" : source.dataDir}`]);
      out.push({ run, steps: await store.stepsOf(id), evals: await store.evalsOf(id) });
    }
    return out;
  } finally {
    await mongo.close();
    await ferret?.stop();
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const { Command } = await import("commander");
  const program = new Command()
    .name("valor report")
    .description("Write an HTML report (with PNG/SVG charts) of recorded training runs.")
    .argument("[run-ids...]", "runs to include (default: the config file's runs, else every recorded run)")
    .option("-c, --config <file>", "take the database and the run ids from a training configuration")
    .option("--data-dir <dir>", "local data folder of valor train", ".valor/local")
    .option("--mongodb-uri <uri>", "read this MongoDB instead of the local data folder")
    .option("--database <name>", "database name", "valor")
    .option("-o, --out <dir>", "output folder", "valor-report")
    .option("--reference <run-id>", "the run whose final accuracy the others are measured against")
    .option("--title <text>", "report title")
    .option("--no-png", "skip the PNG charts")
    .exitOverride();
  try {
    program.parse(argv, { from: "user" });
  } catch (err) {
    return (err as { exitCode?: number }).exitCode ?? 2;
  }
  const o = program.opts<{ config?: string; dataDir: string; mongodbUri?: string; database: string; out: string; reference?: string; title?: string; png: boolean }>();
  try {
    let source: ReportSource = { mongodbUri: o.mongodbUri, dataDir: path.resolve(o.dataDir), database: o.database };
    let runIds: string[] = program.args;
    if (o.config) {
      const config = loadTrainConfig(o.config);
      source = { mongodbUri: config.services.mongodb_uri, dataDir: config.services.data_dir, database: config.services.database };
      if (runIds.length === 0) runIds = config.runs.map((r) => r.run_id);
    }
    const runs = await loadRuns(source, runIds);
    if (runs.length === 0) throw new ConfigError(["no runs are recorded"]);
    const { files } = writeTrainingReport(runs, o.out, { png: o.png, title: o.title, referenceRunId: o.reference });
    process.stdout.write(`wrote ${files.length} files to ${o.out} (open ${path.join(o.out, "report.html")})\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`valor report: ${(err as Error).message}\n`);
    return err instanceof ConfigError ? 2 : 1;
  }
}
