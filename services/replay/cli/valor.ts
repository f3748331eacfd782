#!/usr/bin/env node
// `valor`: the command-line entry point. `valor replay ...` is the replay
// store's CLI (services/replay/cli/replay-cli.ts).
import { main as replay } from "./replay-cli";

const USAGE = `usage: valor <command> [options]

commands:
  replay   the replay store: runs, configure, append-file, stats, query, sample, export, flush
           (valor replay --help)
`;

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "replay":
      return replay(rest);
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
