import { agentExecutor } from "./agent/agent-executor.js";
import { registerExecutor } from "./registry.js";

/** Every executor kind this build has: importing this module registers them (once per process). */
registerExecutor(agentExecutor);

export { agentExecutor };
