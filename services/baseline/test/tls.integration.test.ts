// TLS and mutual TLS on a real service process, with certificate authorities
// made at test time: plaintext clients are refused by a TLS server, an mTLS
// server refuses clients without a certificate from its CA, rotated
// certificate files are served without a restart, and a bearer token is never
// accepted over plaintext on a non-loopback address unless explicitly allowed.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { BaselineServiceClient } from "../../../shared/gen/valor/baseline/v1/baseline.pb";
import { unary } from "../../../shared/grpc/client";
import { checkClientTransport, clientCredentials, isLoopbackHost, type ClientTls } from "../../../shared/grpc/tls";
import { startServiceProcess, type ServiceProcess } from "../../../shared/local/service-process";
import { repoRoot } from "../../../shared/paths";
import { makeTestPki, type TestPki } from "../../../shared/testing/tls";

let pki: TestPki;
let other: TestPki;
const running: ServiceProcess[] = [];

before(() => {
  pki = makeTestPki("valor");
  other = makeTestPki("other");
});
after(async () => {
  await Promise.all(running.map((s) => s.stop()));
  for (const p of [pki, other]) if (p) fs.rmSync(p.dir, { recursive: true, force: true });
});

async function start(env: Record<string, string>): Promise<ServiceProcess> {
  const s = await startServiceProcess("baseline", { MONGODB_URI: "mongodb://127.0.0.1:9/", ...env });
  running.push(s);
  return s;
}

function list(address: string, tls: ClientTls | undefined, insecure = false): Promise<unknown> {
  const client = new BaselineServiceClient(`localhost:${address.split(":").pop()}`, insecure ? credentials.createInsecure() : clientCredentials(tls));
  return unary(client.listEstimators.bind(client), {}, 3_000).finally(() => client.close());
}

const refused = (p: Promise<unknown>) => assert.rejects(p, (err: ServiceError) => err.code === status.UNAVAILABLE);

describe("TLS", () => {
  it("serves TLS clients that trust its CA and refuses plaintext and other CAs", async () => {
    const s = await start({ TLS_CERT_FILE: pki.serverCert, TLS_KEY_FILE: pki.serverKey });
    assert.equal(s.logs.find((l) => l.message === "listening")?.tls, "server");
    await list(s.address, { caFile: pki.ca });
    await refused(list(s.address, undefined, true));
    await refused(list(s.address, { caFile: other.ca }));
  });

  it("mutual TLS: refuses a client without a certificate, or with one from another CA", async () => {
    const s = await start({ TLS_CERT_FILE: pki.serverCert, TLS_KEY_FILE: pki.serverKey, TLS_CLIENT_CA_FILE: pki.ca });
    await list(s.address, { caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.clientKey });
    await refused(list(s.address, { caFile: pki.ca }));
    await refused(list(s.address, { caFile: pki.ca, certFile: other.clientCert, keyFile: other.clientKey }));
  });

  it("serves a rotated certificate without a restart", async () => {
    const dir = fs.mkdtempSync(path.join(pki.dir, "rotating-"));
    const cert = path.join(dir, "server.pem");
    const key = path.join(dir, "server.key");
    fs.copyFileSync(pki.serverCert, cert);
    fs.copyFileSync(pki.serverKey, key);
    const s = await start({ TLS_CERT_FILE: cert, TLS_KEY_FILE: key, TLS_RELOAD_MS: "200" });
    await list(s.address, { caFile: pki.ca });
    fs.copyFileSync(other.serverCert, cert);
    fs.copyFileSync(other.serverKey, key);
    // Poll (no fixed sleep): the watcher re-reads the files within a few reload periods.
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await list(s.address, { caFile: other.ca });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
    }
    await refused(list(s.address, { caFile: pki.ca }));
  });
});

describe("the bearer token and plaintext", () => {
  const main = path.join(repoRoot(), "dist", "services", "baseline", "src", "main.js");
  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, [main], { env: { ...process.env, GRPC_PORT: "0", METRICS_PORT: "-1", ...env }, encoding: "utf8", timeout: 20_000 });

  it("a service refuses to start with AUTH_TOKEN in plaintext on a non-loopback address (exit 2)", () => {
    const r = run({ AUTH_TOKEN: "s3cret", GRPC_HOST: "0.0.0.0" });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /AUTH_TOKEN over plaintext on 0\.0\.0\.0/);
    assert.match(r.stderr, /ALLOW_INSECURE_AUTH/);
  });

  it("refuses half a TLS configuration and unreadable files (exit 2)", () => {
    let r = run({ TLS_CERT_FILE: pki.serverCert });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /TLS_CERT_FILE and TLS_KEY_FILE must be set together/);
    r = run({ TLS_CERT_FILE: "/nonexistent.pem", TLS_KEY_FILE: pki.serverKey });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /TLS_CERT_FILE="\/nonexistent.pem": cannot read/);
  });

  it("clients never send the token in plaintext to a non-loopback address unless allowed", () => {
    assert.throws(() => checkClientTransport("10.0.0.7:50054", "s3cret", undefined), /refusing to send the bearer token in plaintext/);
    assert.doesNotThrow(() => checkClientTransport("10.0.0.7:50054", "s3cret", { caFile: pki.ca }));
    assert.doesNotThrow(() => checkClientTransport("10.0.0.7:50054", "s3cret", undefined, true));
    assert.doesNotThrow(() => checkClientTransport("127.0.0.1:50054", "s3cret", undefined));
    assert.doesNotThrow(() => checkClientTransport("10.0.0.7:50054", "", undefined));
    assert.deepEqual(["127.0.0.1", "127.3.4.5", "localhost", "[::1]", "::1", "0.0.0.0", "10.1.2.3", "example.org"].map(isLoopbackHost), [true, true, true, true, true, false, false, false]);
  });
});
