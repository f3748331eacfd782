// Default verification settings (the service overrides them from its config).
import type { VerifySettings } from "./verify";

export const DEFAULT_LIMITS = {
  maxResponseChars: 262_144,
  maxAnswerChars: 2_048,
  maxNesting: 32,
  maxParts: 256,
};

export const DEFAULT_SETTINGS: VerifySettings = {
  strict: false,
  relativeTolerance: 1e-6,
  percentPolicy: "gold_decides",
  limits: DEFAULT_LIMITS,
};
