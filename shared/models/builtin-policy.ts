// The built-in policy's artefacts (models/artifacts, written by models/build.sh):
// weights.bin (one flat little-endian float32 vector), weights.json (its
// manifest: parameter count, sha256, architecture) and vocab.json.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export interface BuiltinPolicyManifest {
  dtype: "float32";
  n_params: number;
  n_decay: number;
  sha256: string;
  config: { vocab_size: number; d_model: number; n_layer: number; n_head: number; d_head: number; d_ff: number; max_pos: number };
  tensors: Array<{ name: string; shape: number[]; offset: number; decay: boolean }>;
}

export interface BuiltinVocab {
  tokens: string[];
  pad_id: number;
  bos_id: number;
  eos_id: number;
}

export interface BuiltinPolicy {
  dir: string;
  manifest: BuiltinPolicyManifest;
  vocab: BuiltinVocab;
  params: Float32Array;
}

/** Reads and verifies the artefacts; a missing file or a checksum mismatch fails with the path. */
export function loadBuiltinPolicy(dir: string): BuiltinPolicy {
  const read = (file: string) => {
    const p = path.join(dir, file);
    if (!fs.existsSync(p)) throw new Error(`missing model artefact ${p}; run \`make models\` or set the model directory`);
    return fs.readFileSync(p);
  };
  const manifest = JSON.parse(read("weights.json").toString("utf8")) as BuiltinPolicyManifest;
  const vocab = JSON.parse(read("vocab.json").toString("utf8")) as BuiltinVocab;
  const bytes = read("weights.bin");
  const digest = createHash("sha256").update(bytes).digest("hex");
  if (digest !== manifest.sha256) throw new Error(`${path.join(dir, "weights.bin")}: sha256 ${digest} does not match weights.json (${manifest.sha256})`);
  if (bytes.length !== manifest.n_params * 4) throw new Error(`weights.bin holds ${bytes.length / 4} values; weights.json says ${manifest.n_params}`);
  // Copy into an aligned buffer: Float32Array needs a 4-byte-aligned offset.
  const params = new Float32Array(manifest.n_params);
  Buffer.from(params.buffer).set(bytes);
  return { dir, manifest, vocab, params };
}
