// Asserts a call failed with a given status and, for field errors, that the
// message and the valor-field-path trailer name the field.
import assert from "node:assert/strict";
import { status, type ServiceError } from "@grpc/grpc-js";
import { FIELD_PATH_TRAILER } from "../grpc/status";

export async function rejectsWithStatus(promise: Promise<unknown>, code: status, fieldPath?: string): Promise<ServiceError> {
  try {
    await promise;
  } catch (err) {
    const e = err as ServiceError;
    assert.equal(e.code, code, `expected ${status[code]}, got ${status[e.code]}: ${e.details}`);
    if (fieldPath !== undefined) {
      assert.ok(e.details.startsWith(`${fieldPath}: `), `details ${JSON.stringify(e.details)} should name ${fieldPath}`);
      assert.deepEqual(e.metadata.get(FIELD_PATH_TRAILER), [fieldPath]);
    }
    return e;
  }
  assert.fail(`expected ${status[code]}`);
}
