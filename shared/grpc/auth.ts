// Bearer-token authentication for a service's own methods. Health and
// reflection stay open, so Kubernetes probes and grpcurl work without secrets.
import { timingSafeEqual } from "node:crypto";
import { status, type Metadata, type UntypedServiceImplementation } from "@grpc/grpc-js";

const UNAUTHENTICATED = { code: status.UNAUTHENTICATED, details: "a valid 'authorization: Bearer <token>' is required" };

/** True when the header carries exactly `Bearer <token>` (compared in constant time). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (header === undefined) return false;
  const given = Buffer.from(header);
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Wraps every method of an implementation with the token check; an empty token disables it. */
export function requireBearerToken(impl: UntypedServiceImplementation, token: string): UntypedServiceImplementation {
  if (token === "") return impl;
  const wrapped: UntypedServiceImplementation = {};
  for (const [name, fn] of Object.entries(impl)) {
    wrapped[name] = ((call: { metadata: Metadata; emit(event: string, e: unknown): void }, callback?: (e: unknown) => void) => {
      const header = call.metadata.get("authorization")[0];
      if (!bearerMatches(typeof header === "string" ? header : undefined, token)) {
        if (callback) callback(UNAUTHENTICATED);
        else call.emit("error", UNAUTHENTICATED);
        return;
      }
      (fn as (...args: unknown[]) => void)(call, callback);
    }) as UntypedServiceImplementation[string];
  }
  return wrapped;
}
