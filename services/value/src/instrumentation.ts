// Imported first by main.ts so tracing hooks in before gRPC is loaded.
import { startTracing } from "../../../shared/telemetry/tracing";

export const tracing = startTracing("valor-value");
