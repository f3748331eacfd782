// Throwaway certificate authorities for TLS tests, made at test time with the
// openssl command: a CA, a server certificate for 127.0.0.1/localhost and a
// client certificate, all under a temporary folder.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export interface TestPki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** A CA named `name` with a server and a client certificate, in `dir` (a new temp folder by default). */
export function makeTestPki(name: string, dir = fs.mkdtempSync(path.join(os.tmpdir(), `valor-pki-${name}-`))): TestPki {
  fs.mkdirSync(dir, { recursive: true });
  const f = (file: string) => path.join(dir, file);
  const days = "2";
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", days, "-subj", `/CN=${name} test CA`], dir);
  const leaf = (leafName: string, cn: string, ext: string) => {
    fs.writeFileSync(f(`${leafName}.ext`), ext);
    openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${leafName}.key`, "-out", `${leafName}.csr`, "-subj", `/CN=${cn}`], dir);
    openssl(["x509", "-req", "-in", `${leafName}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${leafName}.pem`, "-days", days, "-extfile", `${leafName}.ext`], dir);
  };
  leaf("server", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n");
  leaf("client", `${name}-client`, "extendedKeyUsage=clientAuth\n");
  return { dir, ca: f("ca.pem"), serverCert: f("server.pem"), serverKey: f("server.key"), clientCert: f("client.pem"), clientKey: f("client.key") };
}
