// Writing a report's files into one directory, remembering their paths.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderSvg, svgToPng, type ChartSpec } from "./charts";

export class ReportFiles {
  readonly files: string[] = [];

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  write(name: string, data: string | Buffer): void {
    const path = join(this.dir, name);
    writeFileSync(path, data);
    this.files.push(path);
  }

  /** Indented JSON; NaN and infinities become null, as JSON.stringify makes them. */
  writeJson(name: string, value: unknown): void {
    this.write(name, JSON.stringify(value, null, 2) + "\n");
  }

  /** <id>.svg for every chart, and <id>.png unless png is false. */
  writeCharts(charts: readonly ChartSpec[], png: boolean): void {
    for (const chart of charts) {
      const svg = renderSvg(chart);
      this.write(`${chart.id}.svg`, svg);
      if (png) this.write(`${chart.id}.png`, svgToPng(svg));
    }
  }
}
