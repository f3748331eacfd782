// MongoDB through the official driver. Only features that both MongoDB and the
// local FerretDB v1 support are used: no $sample, no multi-document
// transactions, no change streams, no TTL indexes.
import {
  MongoClient,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  type Db,
} from "mongodb";
import { DeadlineExceededError, UnavailableError, ValorError } from "../errors";

export interface MongoSettings {
  uri: string;
  database: string;
  serverSelectionTimeoutMs: number;
  appName: string;
}

export interface MongoHandle {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

/**
 * Creates a client without waiting for the server: the driver connects on
 * first use and reconnects by itself, so a service starts (and its stateless
 * RPCs work) while the database is down, and recovers when it comes back.
 */
export function createMongo(settings: MongoSettings): MongoHandle {
  const client = new MongoClient(settings.uri, {
    appName: settings.appName,
    serverSelectionTimeoutMS: settings.serverSelectionTimeoutMs,
    // Fail fast on a dead connection instead of hanging a call.
    connectTimeoutMS: settings.serverSelectionTimeoutMs,
    retryWrites: true,
    retryReads: true,
  });
  return { client, db: client.db(settings.database), close: () => client.close() };
}

/** A client from the mongoEnv settings (shared/config). */
export function mongoFromConfig(
  config: { MONGODB_URI: string; MONGODB_DATABASE: string; MONGODB_SERVER_SELECTION_TIMEOUT_MS: number },
  appName: string,
): MongoHandle {
  return createMongo({
    uri: config.MONGODB_URI,
    database: config.MONGODB_DATABASE,
    serverSelectionTimeoutMs: config.MONGODB_SERVER_SELECTION_TIMEOUT_MS,
    appName,
  });
}

export const DUPLICATE_KEY = 11000;

export function isDuplicateKey(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === DUPLICATE_KEY;
}

/** Turns driver errors into domain errors: unreachable → UnavailableError, timeouts → DeadlineExceededError. */
export function toDomainError(err: unknown): unknown {
  if (err instanceof ValorError) return err;
  if (err instanceof MongoOperationTimeoutError) {
    return new DeadlineExceededError("database operation ran past the call's deadline");
  }
  if (
    err instanceof MongoServerSelectionError ||
    err instanceof MongoNetworkError ||
    err instanceof MongoNotConnectedError ||
    err instanceof MongoTopologyClosedError
  ) {
    return new UnavailableError("database unavailable; retry later", { cause: err });
  }
  return err;
}

/** Runs a database operation and rethrows driver failures as domain errors. */
export async function withDatabase<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    throw toDomainError(err);
  }
}
