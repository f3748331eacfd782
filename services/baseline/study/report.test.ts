// The study's outputs: files, the CLI, and the HTML report in a headless browser.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderInChromium } from "../../../shared/report/browser";
import { DEFAULT_STUDY_OPTIONS, runStudy } from "./study";
import { writeOutputs } from "./report";
import { parseArgs } from "./main";

test("CLI flags", async () => {
  const d = await parseArgs([]);
  assert.equal(d.options.seeds, DEFAULT_STUDY_OPTIONS.seeds);
  assert.ok(d.out.endsWith(join("docs", "study")));
  const o = await parseArgs(["--out", "/tmp/x", "--seeds", "3", "--prompts", "100", "--mixes", "dapo_like", "--no-png"]);
  assert.equal(o.out, "/tmp/x");
  assert.equal(o.options.seeds, 3);
  assert.equal(o.options.prompts, 100);
  assert.deepEqual(o.options.mixes, ["dapo_like"]);
  assert.equal(o.png, false);
  await assert.rejects(parseArgs(["--mixes", "nope"]));
});

test("writes JSON, Markdown, SVG, PNG and an HTML report that renders offline with no console errors", async () => {
  const dir = mkdtempSync(join(tmpdir(), "valor-study-"));
  try {
    const result = runStudy({ ...DEFAULT_STUDY_OPTIONS, seeds: 2, prompts: 128, batchSize: 64 });
    const { files } = writeOutputs(result, dir, { verdictMarkdown: "# Verdict\n<b>escaped</b>" });
    const names = files.map((f) => f.slice(dir.length + 1)).sort();
    for (const n of ["results.json", "results.md", "report.html"]) assert.ok(names.includes(n), n);
    const charts = names.filter((n) => n.endsWith(".svg"));
    assert.equal(charts.length, 6);
    for (const svg of charts) {
      assert.match(readFileSync(join(dir, svg), "utf8"), /^<svg[\s\S]*<\/svg>$/);
      const png = readFileSync(join(dir, svg.replace(/\.svg$/, ".png")));
      assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    }
    for (const f of files) assert.ok(statSync(f).size < 5 * 1024 * 1024, f);
    const json = JSON.parse(readFileSync(join(dir, "results.json"), "utf8"));
    assert.equal(json.mixes.length, 2);

    const page = await renderInChromium<string>(join(dir, "report.html"), `document.querySelector("pre") ? document.querySelector("pre").textContent : ""`);
    assert.deepEqual(page.errors, []);
    assert.deepEqual(page.requests, [], "the report loads nothing from the network");
    assert.equal(page.chartsRendered, "6");
    assert.equal(page.charts.length, 6);
    for (const c of page.charts) {
      assert.ok(c.instance, `${c.id}: echarts instance`);
      assert.ok(c.paths > 20, `${c.id}: ${c.paths} svg paths`);
      assert.ok(c.width > 500, `${c.id}: visible`);
    }
    assert.match(page.probe, /<b>escaped<\/b>/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
