// TLS and mutual TLS for every gRPC server and client. Certificates and keys
// come from PEM files; servers re-read them every TLS_RELOAD_MS (grpc-js's file
// watcher), so a rotated certificate is served without a restart.
import fs from "node:fs";
import net from "node:net";
import { credentials, experimental, ServerCredentials, type ChannelCredentials } from "@grpc/grpc-js";
import { ConfigError } from "../config";

/** The server side: the settings every service reads from commonServiceEnv. */
export interface ServerTlsSettings {
  /** PEM certificate chain and private key; both empty: plaintext. */
  TLS_CERT_FILE: string;
  TLS_KEY_FILE: string;
  /** PEM CA bundle: when set, clients must present a certificate it signed (mutual TLS). */
  TLS_CLIENT_CA_FILE: string;
  TLS_RELOAD_MS: number;
}

/** The client side: what a caller needs to reach a TLS server (and to prove itself to an mTLS one). */
export interface ClientTls {
  /** PEM CA bundle that signed the servers' certificates; empty: the system's roots. */
  caFile?: string;
  /** Client certificate and key for mutual TLS. */
  certFile?: string;
  keyFile?: string;
}

export const isLoopbackHost = (host: string): boolean => {
  const h = host.replace(/^\[|\]$/g, "");
  if (h === "localhost") return true;
  if (net.isIPv4(h)) return h.startsWith("127.");
  return h === "::1";
};

function readable(file: string, name: string, problems: string[]): void {
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch {
    problems.push(`${name}=${JSON.stringify(file)}: cannot read the file`);
  }
}

/**
 * The checks a zod shape cannot express: certificate and key come together and
 * are readable; a bearer token is not accepted over plaintext on a non-loopback
 * address (where anyone on the path can read it) unless ALLOW_INSECURE_AUTH.
 */
export function checkServerTransport(c: ServerTlsSettings & { GRPC_HOST: string; AUTH_TOKEN: string; ALLOW_INSECURE_AUTH: boolean }): void {
  const problems: string[] = [];
  if (Boolean(c.TLS_CERT_FILE) !== Boolean(c.TLS_KEY_FILE)) problems.push("TLS_CERT_FILE and TLS_KEY_FILE must be set together");
  if (c.TLS_CERT_FILE) readable(c.TLS_CERT_FILE, "TLS_CERT_FILE", problems);
  if (c.TLS_KEY_FILE) readable(c.TLS_KEY_FILE, "TLS_KEY_FILE", problems);
  if (c.TLS_CLIENT_CA_FILE) {
    if (!c.TLS_CERT_FILE) problems.push("TLS_CLIENT_CA_FILE (mutual TLS) needs TLS_CERT_FILE and TLS_KEY_FILE");
    readable(c.TLS_CLIENT_CA_FILE, "TLS_CLIENT_CA_FILE", problems);
  }
  if (c.AUTH_TOKEN && !c.TLS_CERT_FILE && !isLoopbackHost(c.GRPC_HOST) && !c.ALLOW_INSECURE_AUTH) {
    problems.push(
      `AUTH_TOKEN over plaintext on ${c.GRPC_HOST}: set TLS_CERT_FILE and TLS_KEY_FILE, or ALLOW_INSECURE_AUTH=true (e.g. behind a TLS-terminating mesh)`,
    );
  }
  if (problems.length) throw new ConfigError(problems);
}

/**
 * The server's credentials, and a promise that settles once the certificate
 * files have been read: the file watcher loads them asynchronously, and a
 * handshake before that is reset, so a service reports "listening" only after.
 */
export function serverCredentials(c: ServerTlsSettings): { credentials: ServerCredentials; loaded: Promise<void> } {
  if (!c.TLS_CERT_FILE) return { credentials: ServerCredentials.createInsecure(), loaded: Promise.resolve() };
  const identity = new experimental.FileWatcherCertificateProvider({
    certificateFile: c.TLS_CERT_FILE,
    privateKeyFile: c.TLS_KEY_FILE,
    refreshIntervalMs: c.TLS_RELOAD_MS,
  });
  const clientCa = c.TLS_CLIENT_CA_FILE
    ? new experimental.FileWatcherCertificateProvider({ caCertificateFile: c.TLS_CLIENT_CA_FILE, refreshIntervalMs: c.TLS_RELOAD_MS })
    : null;
  const first = <U>(add: (l: (u: U | null) => void) => void, remove: (l: (u: U | null) => void) => void, what: string) =>
    new Promise<void>((resolve, reject) => {
      const listener = (update: U | null) => {
        remove(listener);
        if (update) resolve();
        else reject(new Error(`cannot load the TLS ${what} files`));
      };
      add(listener);
    });
  const loaded = Promise.all([
    first(
      (l) => identity.addIdentityCertificateListener(l),
      (l) => identity.removeIdentityCertificateListener(l),
      "certificate/key",
    ),
    clientCa &&
      first(
        (l) => clientCa.addCaCertificateListener(l),
        (l) => clientCa.removeCaCertificateListener(l),
        "client CA",
      ),
  ]).then(() => undefined);
  return { credentials: experimental.createCertificateProviderServerCredentials(identity, clientCa, Boolean(clientCa)), loaded };
}

export const usesTls = (tls: ClientTls | undefined): boolean => Boolean(tls && (tls.caFile || tls.certFile));

/** Channel credentials for a client: plaintext without TLS settings. */
export function clientCredentials(tls: ClientTls | undefined): ChannelCredentials {
  if (!usesTls(tls)) return credentials.createInsecure();
  const read = (f: string | undefined) => (f ? fs.readFileSync(f) : null);
  if (Boolean(tls!.certFile) !== Boolean(tls!.keyFile)) throw new Error("a client certificate and its key must be given together");
  return credentials.createSsl(read(tls!.caFile), read(tls!.keyFile), read(tls!.certFile));
}

/**
 * Refuses to send a bearer token in plaintext to a non-loopback address unless
 * explicitly allowed: the client-side half of checkServerTransport.
 */
export function checkClientTransport(address: string, token: string, tls: ClientTls | undefined, allowInsecureAuth = false): void {
  if (!token || usesTls(tls) || allowInsecureAuth) return;
  const host = address.replace(/:\d+$/, "");
  if (!isLoopbackHost(host)) {
    throw new Error(`refusing to send the bearer token in plaintext to ${address}: configure TLS (a CA file) or allow insecure auth explicitly`);
  }
}

/** The client TLS settings from environment variables, for services that call other services. */
export function clientTlsFromEnv(env: { TLS_PEER_CA_FILE: string; TLS_CERT_FILE: string; TLS_KEY_FILE: string }): ClientTls | undefined {
  if (!env.TLS_PEER_CA_FILE) return undefined;
  return { caFile: env.TLS_PEER_CA_FILE, certFile: env.TLS_CERT_FILE || undefined, keyFile: env.TLS_KEY_FILE || undefined };
}
