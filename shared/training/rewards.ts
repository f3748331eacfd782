// Reward transforms shared by the learner and the training schedules.
import { InvalidArgumentError } from "../errors";

/** ReVal's r̃: each reward minus the mean reward of its group (trajectories of one prompt). */
export function groupMeanRewards(trajectories: ReadonlyArray<{ reward: number; groupId: string }>): number[] {
  const sums = new Map<string, { sum: number; n: number }>();
  trajectories.forEach((t, i) => {
    if (t.groupId === "") throw new InvalidArgumentError(`trajectories[${i}].group_id`, "is required for the group-mean reward");
    const g = sums.get(t.groupId) ?? { sum: 0, n: 0 };
    g.sum += t.reward;
    g.n += 1;
    sums.set(t.groupId, g);
  });
  return trajectories.map((t) => {
    const g = sums.get(t.groupId)!;
    return t.reward - g.sum / g.n;
  });
}
