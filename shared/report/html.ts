// The pieces of a report's Markdown and self-contained HTML page: number
// formats, escaped tables, and the page shell that inlines echarts so that the
// page works offline.
import { readFileSync } from "node:fs";
import { CHART_HEIGHT, CHART_WIDTH, type ChartSpec } from "./charts";

/** A fixed number of decimals, exponent notation for tiny values, – for missing ones. */
export function formatNumber(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return "–";
  if (x !== 0 && Math.abs(x) < 10 ** -(digits - 1)) return x.toExponential(1);
  return x.toFixed(digits);
}

export const formatPercent = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : "–");

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export function htmlTable(header: readonly string[], rows: readonly string[][]): string {
  return `<table><thead><tr>${header.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

/** Keeps text from opening an HTML tag where the Markdown is rendered; "p < 0.5" stays as it is. */
export function escapeMarkdown(s: string): string {
  return s.replace(/<(?=[A-Za-z/!?])/g, "\\<");
}

/** First column left-aligned, the others (numbers) right-aligned. */
export function markdownTable(header: readonly string[], rows: readonly string[][]): string {
  // A line break would end the table row.
  const esc = (c: string) => escapeMarkdown(c).replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
  return [
    `| ${header.map(esc).join(" | ")} |`,
    `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
    ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
  ].join("\n");
}

/** JSON that is safe inside a <script> element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

export function echartsSource(): string {
  return readFileSync(require.resolve("echarts/dist/echarts.min.js"), "utf8");
}

/** The element htmlPage's script renders a chart into. */
export function chartDiv(chart: ChartSpec): string {
  return `<div class="chart" id="${escapeHtml(chart.id)}" role="img" aria-label="${escapeHtml(chart.title)}"></div>`;
}

/**
 * A self-contained page: body (HTML, already escaped) followed by echarts and
 * a script that renders every chart into its chartDiv, then sets
 * data-charts-rendered on body (what browser tests wait for).
 */
export function htmlPage(title: string, body: string, charts: readonly ChartSpec[]): string {
  const options = Object.fromEntries(charts.map((c) => [c.id, c.option]));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#222}
table{border-collapse:collapse;font-size:13px;margin:8px 0 16px}th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}
.chart{width:${CHART_WIDTH}px;height:${CHART_HEIGHT}px;margin:16px 0;border:1px solid #eee}
pre{white-space:pre-wrap;background:#fafafa;padding:8px;border:1px solid #eee}
</style></head><body>
${body}
<script>${echartsSource().replace(/<\/script/gi, "<\\/script")}</script>
<script>
(function () {
  var options = ${scriptJson(options)};
  var ids = Object.keys(options);
  ids.forEach(function (id) {
    var chart = echarts.init(document.getElementById(id), null, { renderer: "svg" });
    chart.setOption(options[id]);
  });
  document.body.setAttribute("data-charts-rendered", String(ids.length));
})();
</script>
</body></html>
`;
}
