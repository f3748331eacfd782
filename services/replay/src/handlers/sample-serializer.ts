// SampleResponse serialisation that splices in each trajectory's cached
// protobuf encoding (a trajectory never changes once appended) instead of
// encoding ~3.6 MB of token ids, log-probs and text again for every draw of
// 1,024. The bytes on the wire are a valid SampleResponse: StoredTrajectory's
// other fields are encoded by the generated code, then field 9 (trajectory) is
// appended as a length-delimited field; protobuf parsers accept fields in any order.
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { RunInfo, SampleResponse, StoredTrajectory } from "../../../../shared/gen/valor/replay/v1/replay.pb";

export const ENCODED_TRAJECTORY = Symbol("encodedTrajectory");

type WithEncoded = StoredTrajectory & { [ENCODED_TRAJECTORY]?: Uint8Array };

const TAG_TRAJECTORIES = (1 << 3) | 2; // SampleResponse.trajectories = 1
const TAG_ELIGIBLE = (2 << 3) | 0; // SampleResponse.eligible = 2
const TAG_RUN = (3 << 3) | 2; // SampleResponse.run = 3
const TAG_TRAJECTORY = (9 << 3) | 2; // StoredTrajectory.trajectory = 9

export function serializeSampleResponse(res: SampleResponse): Buffer {
  const w = new BinaryWriter();
  for (const st of res.trajectories as WithEncoded[]) {
    const cached = st[ENCODED_TRAJECTORY];
    w.uint32(TAG_TRAJECTORIES).fork();
    if (cached) {
      StoredTrajectory.encode({ ...st, trajectory: undefined }, w);
      w.uint32(TAG_TRAJECTORY).bytes(cached);
    } else {
      StoredTrajectory.encode(st, w);
    }
    w.join();
  }
  if (res.eligible !== 0) w.uint32(TAG_ELIGIBLE).uint32(res.eligible);
  if (res.run !== undefined) RunInfo.encode(res.run, w.uint32(TAG_RUN).fork()).join();
  const bytes = w.finish();
  // A view, not a copy, of the ~3.6 MB.
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
