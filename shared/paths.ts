import fs from "node:fs";
import path from "node:path";

/** The repository root: the nearest ancestor holding proto/buf.yaml (works from src and dist). */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, "proto", "buf.yaml"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the repository root above ${__dirname}`);
    dir = parent;
  }
}
