import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../../shared/config";
import { startServiceProcess } from "../../../shared/local/service-process";
import { loadBaselineConfig } from "../src/config";

describe("configuration", () => {
  it("documents its defaults", () => {
    const config = loadBaselineConfig({});
    assert.equal(config.GRPC_PORT, 50054);
    assert.equal(config.BASELINE_K_INIT, 4);
    assert.equal(config.BASELINE_K_MAX, 16);
    assert.equal(config.BASELINE_COST_PER_ROLLOUT, 0.0039);
    assert.equal(config.MONGODB_URI, "mongodb://127.0.0.1:27017/");
  });
  it("lists every bad variable at once", () => {
    assert.throws(
      () => loadBaselineConfig({ GRPC_PORT: "http", LOG_LEVEL: "loud", MONGODB_URI: "postgres://x" }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.length === 3 &&
        err.problems.some((p) => p.startsWith('GRPC_PORT="http"')) &&
        err.problems.some((p) => p.startsWith('MONGODB_URI="postgres://x"')),
    );
  });
  it("refuses k_max below k_init", () => {
    assert.throws(() => loadBaselineConfig({ BASELINE_K_INIT: "8", BASELINE_K_MAX: "4" }), ConfigError);
  });
  it("makes the service exit with code 2 before listening", async () => {
    await assert.rejects(startServiceProcess("baseline", { BASELINE_MAX_GROUPS: "0" }), /exited with code 2/);
  });
});
