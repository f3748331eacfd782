// The study's outputs: files, the CLI, and the HTML report in a headless browser.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
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
  const userDataDir = mkdtempSync(join(tmpdir(), "valor-study-chromium-"));
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

    // A persistent context on a fresh directory is playwright's way of passing --user-data-dir.
    const browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: "/usr/bin/chromium",
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    try {
      const page = browser.pages()[0] ?? (await browser.newPage());
      const errors: string[] = [];
      const external: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.route("**/*", (route) => {
        const url = route.request().url();
        if (url.startsWith("file:")) return route.continue();
        external.push(url);
        return route.abort();
      });
      await page.goto(pathToFileURL(join(dir, "report.html")).href, { waitUntil: "load" });
      await page.waitForSelector("body[data-charts-rendered]", { timeout: 10_000 });
      // A string, so this file needs no DOM typings.
      const state = (await page.evaluate(`(() => ({
        rendered: document.body.getAttribute("data-charts-rendered"),
        charts: [...document.querySelectorAll(".chart")].map((el) => ({
          id: el.id,
          instance: Boolean(window.echarts && window.echarts.getInstanceByDom(el)),
          paths: el.querySelectorAll("svg path").length,
          width: el.getBoundingClientRect().width,
        })),
        verdict: document.querySelector("pre") ? document.querySelector("pre").textContent : "",
      }))()`)) as { rendered: string | null; charts: Array<{ id: string; instance: boolean; paths: number; width: number }>; verdict: string };
      assert.deepEqual(errors, []);
      assert.deepEqual(external, [], "the report loads nothing from the network");
      assert.equal(state.rendered, "6");
      assert.equal(state.charts.length, 6);
      for (const c of state.charts) {
        assert.ok(c.instance, `${c.id}: echarts instance`);
        assert.ok(c.paths > 20, `${c.id}: ${c.paths} svg paths`);
        assert.ok(c.width > 500, `${c.id}: visible`);
      }
      assert.match(state.verdict, /<b>escaped<\/b>/);
    } finally {
      await browser.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(userDataDir, { recursive: true, force: true });
  }
});
