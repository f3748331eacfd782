// The one place where errors become gRPC statuses.
import { Metadata, status, type StatusObject } from "@grpc/grpc-js";
import { InvalidArgumentError, ValorError, type ErrorKind } from "../errors";

const codeByKind: Record<ErrorKind, status> = {
  invalid_argument: status.INVALID_ARGUMENT,
  failed_precondition: status.FAILED_PRECONDITION,
  not_found: status.NOT_FOUND,
  unavailable: status.UNAVAILABLE,
  deadline_exceeded: status.DEADLINE_EXCEEDED,
};

/** Trailer naming the offending request field, for clients that want it without parsing. */
export const FIELD_PATH_TRAILER = "valor-field-path";

export interface MappedStatus extends StatusObject {
  /** Unexpected errors are logged with their stack; domain errors are not. */
  unexpected: boolean;
}

export function toStatus(err: unknown): MappedStatus {
  const metadata = new Metadata();
  if (err instanceof ValorError) {
    if (err instanceof InvalidArgumentError && err.fieldPath) metadata.set(FIELD_PATH_TRAILER, err.fieldPath);
    return { code: codeByKind[err.kind], details: err.message, metadata, unexpected: false };
  }
  return { code: status.INTERNAL, details: "internal error", metadata, unexpected: true };
}
