// The data directory: third-party benchmark data (GSM8K, MATH, verifier cases,
// per-policy pass rates) that Valor reads but never commits. Files are named
// by their path in data/manifest.json, relative to the directory.
import fs from "node:fs";
import path from "node:path";
import { repoRoot } from "../paths";

export interface ManifestFile {
  path: string;
  sha256: string;
  bytes: number;
  licence: string;
  /** Downloadable files: the public repository, commit and path they come from. */
  repo?: string;
  commit?: string;
  source_path?: string;
  /** Derived files (parsed or converted): what they were made from, and how. */
  derived_from?: string;
  how?: string;
}

export interface DataManifest {
  description: string;
  files: ManifestFile[];
}

export function loadManifest(root = repoRoot()): DataManifest {
  return JSON.parse(fs.readFileSync(path.join(root, "data", "manifest.json"), "utf8")) as DataManifest;
}

/**
 * VALOR_DATA_DIR when set; else `../shared/data` beside the repository when it
 * exists; else `.valor/data` in the repository (where `make data` writes).
 */
export function dataDir(env: NodeJS.ProcessEnv = process.env, root = repoRoot()): string {
  const configured = env.VALOR_DATA_DIR?.trim();
  if (configured) return path.resolve(configured);
  const beside = path.resolve(root, "..", "shared", "data");
  if (fs.existsSync(beside)) return beside;
  return path.join(root, ".valor", "data");
}

export class DataMissingError extends Error {
  constructor(
    readonly file: string,
    readonly dir: string,
  ) {
    super(`data file ${file} is not in the data directory ${dir}: run 'make data' or set VALOR_DATA_DIR`);
    this.name = "DataMissingError";
  }
}

/** The absolute path of a manifest file, or undefined when the data directory lacks it. */
export function findDataFile(file: string, dir = dataDir()): string | undefined {
  const full = path.join(dir, file);
  return fs.existsSync(full) ? full : undefined;
}

/** The absolute path of a manifest file; throws DataMissingError (with the fix) when absent. */
export function dataFile(file: string, dir = dataDir()): string {
  const full = findDataFile(file, dir);
  if (!full) throw new DataMissingError(file, dir);
  return full;
}

/**
 * For tests: `{ skip: reason }` when any of the files is absent, so a test
 * that needs real data is skipped with a clear message instead of failing.
 * Usage: `it("…", needsData("gsm8k/test.jsonl"), () => …)`.
 */
export function needsData(...files: string[]): { skip: string | false } {
  const dir = dataDir();
  const missing = files.filter((f) => !findDataFile(f, dir));
  return { skip: missing.length ? `needs ${missing.join(", ")} in the data directory ${dir} ('make data' or VALOR_DATA_DIR)` : false };
}

/** JSON Lines from a data file, parsed. */
export function readJsonl<T>(file: string, dir = dataDir()): T[] {
  return fs
    .readFileSync(dataFile(file, dir), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as T);
}
