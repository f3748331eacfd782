#!/usr/bin/env node
// `valor`: the command-line entry point of the suite.
import { main as exportCheckpoints } from "../../learner/cli/export-checkpoints";
import { main as replay } from "../../replay/cli/replay-cli";
import { main as report } from "./report-cli";
import { main as train } from "./train-cli";

const USAGE = `usage: valor <command> [options]

commands:
  train    run RLVR training across the services (valor train --config <file>; valor train --help)
  report   an HTML report with charts of recorded runs (valor report --help)
  replay   the replay store: runs, configure, append-file, stats, query, sample, export, flush
           (valor replay --help)
  export-checkpoints
           the weights of stored learner checkpoints as raw float32 files
           (valor export-checkpoints --help)
`;

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "train":
      return train(rest);
    case "report":
      return report(rest);
    case "replay":
      return replay(rest);
    case "export-checkpoints":
      return exportCheckpoints(rest);
    case undefined:
    case "-h":
    case "--help":
    case "help":
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`valor: unknown command ${JSON.stringify(command)}\n${USAGE}`);
      return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
