// Policy versions held by a rollout server: the current one and any pinned
// under a label (e.g. the reference policy). A version's weights never change
// once stored, so a generation holding a reference keeps a consistent policy
// while newer versions are swapped in.
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from "../../../../shared/errors";

export interface PolicyVersion {
  version: bigint;
  params: Float32Array;
}

export class PolicyStore {
  private currentVersion: PolicyVersion;
  private readonly pinned = new Map<string, PolicyVersion>();

  constructor(
    initial: PolicyVersion,
    readonly numParameters: number,
  ) {
    if (initial.params.length !== numParameters) {
      throw new Error(`initial weights have ${initial.params.length} values; the model has ${numParameters}`);
    }
    this.currentVersion = initial;
  }

  get current(): PolicyVersion {
    return this.currentVersion;
  }

  /** Checks a new version before any bytes are accepted, so a bad stream is refused up front. */
  checkUpdate(version: bigint, numValues: bigint, fieldPath: string): void {
    if (numValues !== BigInt(this.numParameters)) {
      throw new InvalidArgumentError(`${fieldPath}.num_values`, `is ${numValues}; the model has ${this.numParameters} parameters`);
    }
    if (version <= this.currentVersion.version) {
      throw new FailedPreconditionError(`policy version ${version} is not newer than the current version ${this.currentVersion.version}`);
    }
  }

  /** Swaps in a complete, verified version; returns the one it replaced. */
  update(next: PolicyVersion): PolicyVersion {
    this.checkUpdate(next.version, BigInt(next.params.length), "header");
    const previous = this.currentVersion;
    this.currentVersion = next;
    return previous;
  }

  /** Pins the current version (version 0) or the version already held under another label. */
  pin(label: string, version: bigint): PolicyVersion {
    let target: PolicyVersion | undefined;
    if (version === 0n || version === this.currentVersion.version) target = this.currentVersion;
    else target = [...this.pinned.values()].find((p) => p.version === version);
    if (!target) {
      throw new FailedPreconditionError(`policy version ${version} is neither current (${this.currentVersion.version}) nor pinned; only those can be pinned`);
    }
    this.pinned.set(label, target);
    return target;
  }

  /** "" is the current version; anything else must be a pinned label. */
  resolve(label: string): PolicyVersion {
    if (label === "") return this.currentVersion;
    const p = this.pinned.get(label);
    if (!p) throw new NotFoundError(`no policy pinned as ${JSON.stringify(label)}; pinned: ${[...this.pinned.keys()].join(", ") || "none"}`);
    return p;
  }

  pins(): Array<{ label: string; version: bigint }> {
    return [...this.pinned.entries()].map(([label, p]) => ({ label, version: p.version }));
  }
}
