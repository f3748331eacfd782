// Request validation helpers. Each throws InvalidArgumentError naming the field
// path, so a client learns exactly what to fix (e.g. `groups[3].rewards[1]`).
import { InvalidArgumentError } from "../errors";

/**
 * Identifiers are stored in and queried from MongoDB, so anything that could be
 * read as an operator or a dotted path ('$', '.') is refused outright.
 */
export const ID_PATTERN = /^[A-Za-z0-9_:/@#+=-]{1,256}$/;

export function requireId(value: string, fieldPath: string): string {
  if (value === "") throw new InvalidArgumentError(fieldPath, "is required");
  if (!ID_PATTERN.test(value)) {
    const why = value.length > 256 ? "is longer than 256 characters" : "may only contain [A-Za-z0-9_:/@#+=-] (no '$' or '.')";
    throw new InvalidArgumentError(fieldPath, `${why}: ${JSON.stringify(value.slice(0, 64))}`);
  }
  return value;
}

export function requireFinite(value: number, fieldPath: string): number {
  if (!Number.isFinite(value)) throw new InvalidArgumentError(fieldPath, `must be a finite number, got ${value}`);
  return value;
}

export function requireInRange(value: number, min: number, max: number, fieldPath: string): number {
  requireFinite(value, fieldPath);
  if (value < min || value > max) throw new InvalidArgumentError(fieldPath, `must be in [${min}, ${max}], got ${value}`);
  return value;
}

/** Oversized requests are the caller's to split, so they are INVALID_ARGUMENT like any other bad field. */
export function requireCountAtMost(count: number, limit: number, fieldPath: string, limitName: string): void {
  if (count > limit) throw new InvalidArgumentError(fieldPath, `has ${count} entries; the limit is ${limit} (${limitName})`);
}

export function requireNonEmpty(count: number, fieldPath: string, what: string): void {
  if (count === 0) throw new InvalidArgumentError(fieldPath, `at least one ${what} is required`);
}

/** Rejects the second occurrence of a key, naming both positions. */
export function requireUnique(keys: readonly string[], fieldPath: (i: number) => string): void {
  const seen = new Map<string, number>();
  keys.forEach((key, i) => {
    const first = seen.get(key);
    if (first !== undefined) throw new InvalidArgumentError(fieldPath(i), `duplicates ${fieldPath(first)} (${JSON.stringify(key)})`);
    seen.set(key, i);
  });
}
