/** Registers every gate kind of the plan (PlanGate). Import once where gates are evaluated. */
import { exactPromotionGate } from "./exact-promotion.js";
import { failureBudgetGate } from "./failure-budget.js";
import { finalVerificationGate } from "./final-verification.js";
import { healthGate } from "./health.js";
import { observationGate } from "./observation.js";
import { progressDeadlineGate } from "./progress-deadline.js";
import { registerGate } from "./registry.js";
import { soakGate } from "./soak.js";

registerGate(healthGate);
registerGate(failureBudgetGate);
registerGate(observationGate);
registerGate(soakGate);
registerGate(exactPromotionGate);
registerGate(finalVerificationGate);
registerGate(progressDeadlineGate);
