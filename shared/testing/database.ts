// A database for one test file: the MongoDB at MONGODB_URI when set (with a
// fresh database name), otherwise a private FerretDB on a free port.
import { randomUUID } from "node:crypto";
import { MongoClient } from "mongodb";
import { startFerretDb, type FerretDb } from "../local/ferretdb";

export interface TestDatabase {
  uri: string;
  database: string;
  /** The private FerretDB, when one was started (tests that stop the database need it). */
  ferret: FerretDb | undefined;
  client: MongoClient;
  close(): Promise<void>;
}

export async function openTestDatabase(): Promise<TestDatabase> {
  const external = process.env.MONGODB_URI;
  const ferret = external ? undefined : await startFerretDb();
  const uri = external ?? ferret!.uri;
  const database = `valor_test_${randomUUID().slice(0, 8)}`;
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5_000 });
  return {
    uri,
    database,
    ferret,
    client,
    close: async () => {
      if (external) await client.db(database).dropDatabase().catch(() => undefined);
      await client.close();
      await ferret?.destroy();
    },
  };
}
