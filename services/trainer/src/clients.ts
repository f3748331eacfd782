// gRPC clients of every service a training run talks to, with the bearer
// token on every call. Local and remote mode differ only in the addresses.
import { BaselineServiceClient } from "../../../shared/gen/valor/baseline/v1/baseline.pb";
import { LearnerServiceClient } from "../../../shared/gen/valor/learner/v1/learner.pb";
import { ReplayServiceClient } from "../../../shared/gen/valor/replay/v1/replay.pb";
import { RewardServiceClient } from "../../../shared/gen/valor/reward/v1/reward.pb";
import { RolloutServiceClient } from "../../../shared/gen/valor/rollout/v1/rollout.pb";
import { ValueServiceClient } from "../../../shared/gen/valor/value/v1/value.pb";
import { bearerAuth } from "../../../shared/grpc/client";
import { checkClientTransport, clientCredentials, type ClientTls } from "../../../shared/grpc/tls";

export interface ServiceAddresses {
  rollout: string;
  learner: string;
  reward: string;
  baseline: string;
  value?: string;
  replay?: string;
}

export interface ServiceClients {
  rollout: RolloutServiceClient;
  learner: LearnerServiceClient;
  reward: RewardServiceClient;
  baseline: BaselineServiceClient;
  value?: ValueServiceClient;
  replay?: ReplayServiceClient;
  close(): void;
}

// Weights and rollouts of a large batch exceed grpc-js's 4 MiB default.
const MESSAGE_LIMITS = { "grpc.max_receive_message_length": 256 << 20, "grpc.max_send_message_length": 256 << 20 };

/**
 * Clients of every address, over TLS when `transport.tls` names a CA (and a
 * client certificate for mutual TLS). A token is never sent in plaintext to a
 * non-loopback address unless `allowInsecureAuth`.
 */
export function connectServices(addresses: ServiceAddresses, token: string, transport: { tls?: ClientTls; allowInsecureAuth?: boolean } = {}): ServiceClients {
  for (const address of Object.values(addresses)) if (address) checkClientTransport(address, token, transport.tls, transport.allowInsecureAuth);
  const options = { ...MESSAGE_LIMITS, ...bearerAuth(token) };
  const insecure = clientCredentials(transport.tls);
  const clients = {
    rollout: new RolloutServiceClient(addresses.rollout, insecure, options),
    learner: new LearnerServiceClient(addresses.learner, insecure, options),
    reward: new RewardServiceClient(addresses.reward, insecure, options),
    baseline: new BaselineServiceClient(addresses.baseline, insecure, options),
    value: addresses.value ? new ValueServiceClient(addresses.value, insecure, options) : undefined,
    replay: addresses.replay ? new ReplayServiceClient(addresses.replay, insecure, options) : undefined,
  };
  return {
    ...clients,
    close: () => Object.values(clients).forEach((c) => c?.close()),
  };
}
