// Client helpers: promise wrappers with an explicit deadline on every call, and
// dynamic clients (proto-loader) for the standard health and reflection protos.
import path from "node:path";
import {
  credentials,
  InterceptingCall,
  loadPackageDefinition,
  Metadata,
  type CallOptions,
  type ClientUnaryCall,
  type ClientOptions,
  type GrpcObject,
  type ServiceClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

export const DEFAULT_DEADLINE_MS = 10_000;

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/** Calls a generated unary method with a deadline; rejects with the ServiceError. */
export function unary<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, deadlineMs = DEFAULT_DEADLINE_MS): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(request, new Metadata(), { deadline: new Date(Date.now() + deadlineMs) }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** Client options that send `authorization: Bearer <token>` on every call (none when the token is empty). */
export function bearerAuth(token: string): ClientOptions {
  if (!token) return {};
  return {
    interceptors: [
      (options, nextCall) =>
        new InterceptingCall(nextCall(options), {
          start: (metadata, listener, next) => {
            metadata.set("authorization", `Bearer ${token}`);
            next(metadata, listener);
          },
        }),
    ],
  };
}

function loadStandardProto(file: string, packagePath: string[], serviceName: string): ServiceClientConstructor {
  const definition = loadSync(file, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  let node: GrpcObject | ServiceClientConstructor = loadPackageDefinition(definition);
  for (const part of [...packagePath, serviceName]) node = (node as GrpcObject)[part] as GrpcObject | ServiceClientConstructor;
  return node as ServiceClientConstructor;
}

/** Asks grpc.health.v1.Health/Check for a service ("" = the whole server); resolves with the status name. */
export function checkHealth(address: string, service = "", deadlineMs = 2_000): Promise<string> {
  const Health = loadStandardProto(require.resolve("grpc-health-check/proto/health/v1/health.proto"), ["grpc", "health", "v1"], "Health");
  const client = new Health(address, credentials.createInsecure());
  return new Promise<string>((resolve, reject) => {
    client.Check!({ service }, { deadline: new Date(Date.now() + deadlineMs) }, (err: ServiceError | null, res: { status: string }) => {
      client.close();
      if (err) reject(err);
      else resolve(res.status);
    });
  });
}

/** Lists the services the server describes through reflection (grpc.reflection.v1). */
export function listServicesByReflection(address: string, deadlineMs = 2_000): Promise<string[]> {
  const reflectionProto = path.join(
    path.dirname(require.resolve("@grpc/reflection/package.json")),
    "build/proto/grpc/reflection/v1/reflection.proto",
  );
  const Reflection = loadStandardProto(reflectionProto, ["grpc", "reflection", "v1"], "ServerReflection");
  const client = new Reflection(address, credentials.createInsecure());
  return new Promise<string[]>((resolve, reject) => {
    const stream = client.ServerReflectionInfo!({ deadline: new Date(Date.now() + deadlineMs) });
    stream.on("data", (res: { list_services_response?: { service: Array<{ name: string }> }; error_response?: { error_message: string } }) => {
      stream.end();
      client.close();
      if (res.list_services_response) resolve(res.list_services_response.service.map((s) => s.name).sort());
      else reject(new Error(res.error_response?.error_message ?? "unexpected reflection response"));
    });
    stream.on("error", (err: Error) => {
      client.close();
      reject(err);
    });
    stream.write({ list_services: "" });
  });
}
