// The one place where errors become gRPC statuses.
import { Metadata, status, type StatusObject } from "@grpc/grpc-js";
import { InvalidArgumentError, ValorError, type ErrorKind } from "../errors";

const codeByKind: Record<ErrorKind, status> = {
  invalid_argument: status.INVALID_ARGUMENT,
  failed_precondition: status.FAILED_PRECONDITION,
  not_found: status.NOT_FOUND,
  unavailable: status.UNAVAILABLE,
  deadline_exceeded: status.DEADLINE_EXCEEDED,
  resource_exhausted: status.RESOURCE_EXHAUSTED,
};

/**
 * Status details and the field-path trailer are capped: they travel in HTTP/2
 * trailers, and a client drops a trailer block over its metadata limit (8 KiB
 * by default in grpc-js), which stalls the call instead of failing it.
 */
export const MAX_DETAILS_CHARS = 1024;
export const MAX_FIELD_PATH_CHARS = 256;

function cap(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** Trailer naming the offending request field, for clients that want it without parsing. */
export const FIELD_PATH_TRAILER = "valor-field-path";

export interface MappedStatus extends StatusObject {
  /** Unexpected errors are logged with their stack; domain errors are not. */
  unexpected: boolean;
}

export function toStatus(err: unknown): MappedStatus {
  const metadata = new Metadata();
  if (err instanceof ValorError) {
    if (err instanceof InvalidArgumentError && err.fieldPath) metadata.set(FIELD_PATH_TRAILER, cap(err.fieldPath, MAX_FIELD_PATH_CHARS));
    return { code: codeByKind[err.kind], details: cap(err.message, MAX_DETAILS_CHARS), metadata, unexpected: false };
  }
  return { code: status.INTERNAL, details: "internal error", metadata, unexpected: true };
}
