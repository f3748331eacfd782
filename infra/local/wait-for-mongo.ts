// Waits until a MongoDB-compatible server answers ping (used by `make db-up`).
import { MongoClient } from "mongodb";

async function main(): Promise<void> {
  const uri = process.argv[2];
  if (!uri) throw new Error("usage: wait-for-mongo <uri> [timeout-ms]");
  const deadline = Date.now() + Number(process.argv[3] ?? 20_000);
  for (;;) {
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 250 });
    try {
      await client.db("admin").command({ ping: 1 });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    } finally {
      await client.close();
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`wait-for-mongo: ${String(err)}\n`);
  process.exit(1);
});
