// Domain errors. Domain code throws these without knowing about gRPC; the one
// mapping to status codes lives in shared/grpc/status.ts.

export type ErrorKind =
  | "invalid_argument"
  | "failed_precondition"
  | "not_found"
  | "unavailable"
  | "deadline_exceeded"
  | "resource_exhausted";

export abstract class ValorError extends Error {
  abstract readonly kind: ErrorKind;
  /** Whether a client may retry the same request unchanged. */
  abstract readonly retryable: boolean;
}

/** A request field is wrong. `fieldPath` names it, e.g. `groups[3].rewards[1]`. */
export class InvalidArgumentError extends ValorError {
  readonly kind = "invalid_argument";
  readonly retryable = false;
  constructor(
    readonly fieldPath: string,
    readonly reason: string,
  ) {
    super(fieldPath ? `${fieldPath}: ${reason}` : reason);
    this.name = "InvalidArgumentError";
  }
}

/** The request is well-formed but the system is not in a state to serve it. */
export class FailedPreconditionError extends ValorError {
  readonly kind = "failed_precondition";
  readonly retryable = false;
  constructor(message: string) {
    super(message);
    this.name = "FailedPreconditionError";
  }
}

export class NotFoundError extends ValorError {
  readonly kind = "not_found";
  readonly retryable = false;
  constructor(message: string) {
    super(message);
    this.name = "NotFoundError";
  }
}

/** A dependency (e.g. the database) cannot be reached; retrying later may succeed. */
export class UnavailableError extends ValorError {
  readonly kind = "unavailable";
  readonly retryable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UnavailableError";
  }
}

export class DeadlineExceededError extends ValorError {
  readonly kind = "deadline_exceeded";
  readonly retryable = true;
  constructor(message: string) {
    super(message);
    this.name = "DeadlineExceededError";
  }
}

/** A request would take more work or memory than a documented limit allows; `setting` names the limit. */
export class ResourceExhaustedError extends ValorError {
  readonly kind = "resource_exhausted";
  readonly retryable = false;
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${message} (limit: ${setting})`);
    this.name = "ResourceExhaustedError";
  }
}

/** At most `max` characters of a caller's text, for error messages: statuses travel in size-limited trailers. */
export function excerpt(text: string, max = 64): string {
  return text.length <= max ? JSON.stringify(text) : `${JSON.stringify(text.slice(0, max))}… (${text.length} characters)`;
}
