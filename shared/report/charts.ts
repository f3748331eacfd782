// Chart options are plain JSON, so the same object renders server-side to
// SVG/PNG here and live in a report's HTML page.
import * as echarts from "echarts";
import { Resvg } from "@resvg/resvg-js";

export interface ChartSpec {
  /** Also the file name of the chart's SVG and PNG, and the element id in the HTML page. */
  id: string;
  title: string;
  option: Record<string, unknown>;
}

export const CHART_WIDTH = 1100;
export const CHART_HEIGHT = 560;
export const PALETTE = ["#1f4e9c", "#8c564b", "#555555", "#ff7f0e", "#17becf", "#2ca02c", "#bcbd22", "#9467bd", "#d62728", "#e377c2", "#7f7f7f"];
const FONT = "DejaVu Sans, Arial, Helvetica, sans-serif";

/** Five significant digits: plenty for a chart, and the inlined options stay small. */
export const r5 = (x: number) => Number(x.toPrecision(5));

/** What every chart shares: white background, no animation, the palette and a legend on the right. */
export function baseOption(title: string, subtitle: string): Record<string, unknown> {
  return {
    animation: false,
    backgroundColor: "#ffffff",
    textStyle: { fontFamily: FONT },
    title: { text: title, subtext: subtitle, left: "center", textStyle: { fontSize: 16 }, subtextStyle: { fontSize: 11 } },
    tooltip: { trigger: "item" },
    color: PALETTE,
    grid: { left: 80, right: 450, top: 95, bottom: 60 },
    legend: { orient: "vertical", left: CHART_WIDTH - 380, top: 100, itemGap: 12, textStyle: { fontSize: 12 } },
  };
}

export function renderSvg(spec: ChartSpec): string {
  const chart = echarts.init(null, null, { renderer: "svg", ssr: true, width: CHART_WIDTH, height: CHART_HEIGHT });
  try {
    chart.setOption(spec.option as echarts.EChartsOption);
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

export function svgToPng(svg: string): Buffer {
  const resvg = new Resvg(svg, {
    background: "#ffffff",
    fitTo: { mode: "width", value: CHART_WIDTH * 2 },
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
  });
  return resvg.render().asPng();
}
