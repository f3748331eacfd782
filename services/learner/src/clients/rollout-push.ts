// Pushes a new policy version to rollout services over their UpdateWeights
// client stream: a header (version, size, sha256), then the float32 bytes in chunks.
import { createHash } from "node:crypto";
import { Metadata } from "@grpc/grpc-js";
import { RolloutServiceClient } from "../../../../shared/gen/valor/rollout/v1/rollout.pb";
import { clientCredentials, type ClientTls } from "../../../../shared/grpc/tls";

export interface PushResult {
  address: string;
  ok: boolean;
  error?: string;
}

export class RolloutPusher {
  private readonly clients: Array<{ address: string; client: RolloutServiceClient }>;

  constructor(
    addresses: readonly string[],
    private readonly options: { chunkBytes: number; deadlineMs: number; authToken: string; tls?: ClientTls },
  ) {
    this.clients = addresses.map((address) => ({ address, client: new RolloutServiceClient(address, clientCredentials(options.tls)) }));
  }

  get addresses(): string[] {
    return this.clients.map((c) => c.address);
  }

  /** Pushes to every rollout service at once; one failing does not stop the others. */
  push(version: bigint, params: Float32Array): Promise<PushResult[]> {
    const bytes = Buffer.from(params.buffer, params.byteOffset, params.byteLength);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    return Promise.all(
      this.clients.map(
        ({ address, client }) =>
          new Promise<PushResult>((resolve) => {
            const metadata = new Metadata();
            if (this.options.authToken) metadata.set("authorization", `Bearer ${this.options.authToken}`);
            const call = client.updateWeights(metadata, { deadline: new Date(Date.now() + this.options.deadlineMs) }, (err) =>
              resolve(err ? { address, ok: false, error: err.details || err.message } : { address, ok: true }),
            );
            call.write({ part: { $case: "header", value: { policyVersion: version, numValues: BigInt(params.length), sha256 } } });
            for (let offset = 0; offset < bytes.length; offset += this.options.chunkBytes) {
              call.write({ part: { $case: "chunk", value: bytes.subarray(offset, offset + this.options.chunkBytes) } });
            }
            call.end();
          }),
      ),
    );
  }

  close(): void {
    for (const { client } of this.clients) client.close();
  }
}
