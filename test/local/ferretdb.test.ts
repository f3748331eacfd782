// The local FerretDB's pid file (shared/local/ferretdb.ts): a data folder whose
// FerretDB was started by a live process is refused; an unreadable pid file is
// discarded. (Stopping a leftover FerretDB: services/trainer's end-to-end test.)
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, it } from "node:test";
import { startFerretDb } from "../../shared/local/ferretdb";

const dirs: string[] = [];
const dataDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "valor-ferretdb-pid-"));
  dirs.push(d);
  return d;
};

after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

it("refuses a data folder whose FerretDB was started by a process that is still alive", async () => {
  const dir = dataDir();
  const file = path.join(dir, "ferretdb.pid");
  fs.writeFileSync(file, JSON.stringify({ ferretdb: 2 ** 22 + 1, owner: process.ppid }));
  await assert.rejects(startFerretDb({ dataDir: dir }), new RegExp(`in use by the FerretDB of process ${process.ppid}`));
  assert.ok(fs.existsSync(file), "the live owner's pid file stays");
});

it("discards an unreadable pid file, records its own and removes it on stop", async () => {
  const dir = dataDir();
  const file = path.join(dir, "ferretdb.pid");
  fs.writeFileSync(file, '{"ferretdb": 12');
  const ferret = await startFerretDb({ dataDir: dir });
  try {
    const recorded = JSON.parse(fs.readFileSync(file, "utf8")) as { ferretdb: number; owner: number };
    assert.equal(recorded.owner, process.pid);
    assert.ok(Number.isInteger(recorded.ferretdb) && recorded.ferretdb !== process.pid);
  } finally {
    await ferret.stop();
  }
  assert.equal(fs.existsSync(file), false);
});
