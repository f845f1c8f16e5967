import type { FastifyRequest } from "fastify";
import { AGENT_PROTOCOL_HEADER, AGENT_PROTOCOL_VERSION } from "../agent/protocol.js";
import { reasonError } from "../domain/errors.js";

/**
 * Refuses an agent that speaks another major version of the agent protocol, saying which version
 * each side speaks. `required`: the route exists only since version 2 (operations), so a request
 * without the header comes from an agent that cannot speak it. The routes of version 1 (enroll,
 * heartbeat, inventory) still serve an agent that predates the header, so that an agent upgraded
 * after its server keeps reporting meanwhile.
 */
export function checkAgentProtocol(request: FastifyRequest, required: boolean): void {
  const raw = request.headers[AGENT_PROTOCOL_HEADER];
  const value = Array.isArray(raw) ? raw[0] : raw;
  const where = `/headers/${AGENT_PROTOCOL_HEADER}`;
  if (value === undefined || value.trim() === "") {
    if (!required) return;
    throw reasonError(
      "agent.protocol-mismatch",
      `the server speaks agent protocol ${AGENT_PROTOCOL_VERSION}; this route needs an agent that sends ` +
        `${AGENT_PROTOCOL_HEADER}: ${AGENT_PROTOCOL_VERSION} (upgrade the agent)`,
      { where },
    );
  }
  const major = /^\s*(\d{1,6})(?:\.\d{1,6})?\s*$/.exec(value)?.[1];
  if (major === undefined || Number(major) !== AGENT_PROTOCOL_VERSION) {
    throw reasonError(
      "agent.protocol-mismatch",
      `the agent speaks protocol ${JSON.stringify(value.slice(0, 20))}, the server speaks ` +
        `${AGENT_PROTOCOL_VERSION}: upgrade the ${major !== undefined && Number(major) > AGENT_PROTOCOL_VERSION ? "server" : "agent"}`,
      { where },
    );
  }
}

/** A route-level hook for agent routes. */
export function agentProtocolHook(required: boolean) {
  return async (request: FastifyRequest): Promise<void> => checkAgentProtocol(request, required);
}
