// Opens a report's HTML page in headless Chromium with the network blocked and
// returns what a reader would get: console errors, the requests the page tried,
// and each chart's state. For tests (playwright-core is a dev dependency).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

/** Debian's chromium package; `.ci/run` installs it when missing. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

export interface RenderedChart {
  id: string;
  /** An echarts instance is attached to the chart's element. */
  instance: boolean;
  /** SVG paths drawn: a handful for an empty chart, dozens once axes and series are there. */
  paths: number;
  width: number;
  height: number;
}

export interface RenderedPage<T> {
  /** Console errors and uncaught exceptions. */
  errors: string[];
  /** Non-file URLs the page tried to load (all blocked). */
  requests: string[];
  /** The page's data-charts-rendered attribute. */
  chartsRendered: string | null;
  charts: RenderedChart[];
  /** The value of the caller's probe expression. */
  probe: T;
}

/**
 * Loads htmlPath, waits for its charts (htmlPage's data-charts-rendered), and
 * evaluates probe, a JavaScript expression, in the page: a string, so that
 * callers need no DOM typings.
 */
export async function renderInChromium<T = null>(htmlPath: string, probe = "null"): Promise<RenderedPage<T>> {
  // A persistent context on a fresh directory is playwright's way of passing --user-data-dir.
  const userDataDir = mkdtempSync(join(tmpdir(), "valor-chromium-"));
  try {
    const browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    try {
      const page = browser.pages()[0] ?? (await browser.newPage());
      const errors: string[] = [];
      const requests: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.route("**/*", (route) => {
        const url = route.request().url();
        if (url.startsWith("file:")) return route.continue();
        requests.push(url);
        return route.abort();
      });
      await page.goto(pathToFileURL(htmlPath).href, { waitUntil: "load" });
      await page.waitForSelector("body[data-charts-rendered]", { timeout: 10_000 });
      const state = (await page.evaluate(`(() => ({
        chartsRendered: document.body.getAttribute("data-charts-rendered"),
        charts: [...document.querySelectorAll(".chart")].map((el) => ({
          id: el.id,
          instance: Boolean(window.echarts && window.echarts.getInstanceByDom(el)),
          paths: el.querySelectorAll("svg path").length,
          width: el.getBoundingClientRect().width,
          height: el.getBoundingClientRect().height,
        })),
        probe: (${probe}),
      }))()`)) as Omit<RenderedPage<T>, "errors" | "requests">;
      return { errors, requests, ...state };
    } finally {
      await browser.close();
    }
  } finally {
    rmSync(userDataDir, { recursive: true, force: true });
  }
}
