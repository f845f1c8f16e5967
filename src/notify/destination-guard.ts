/**
 * The delivery-time half of the webhook destination rule: a host name is resolved and every address
 * it has must be allowed, so a name that points (or was re-pointed) at loopback, the metadata service
 * or a private range is refused even though its URL passed when the policy was applied.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import {
  isAllowListedHost,
  refusedAddress,
  refusedWebhookUrl,
  type WebhookAllowList,
} from "../policy/webhook-destination.js";

export type Resolver = (host: string) => Promise<ReadonlyArray<{ address: string }>>;

const systemResolver: Resolver = (host) => lookup(host, { all: true, verbatim: true });

/**
 * Why a message may not be posted to `url`, or null. A name that does not resolve is left to the post
 * itself to fail, with the resolver's own error.
 */
export async function refusedDestination(
  url: string,
  allow: WebhookAllowList,
  resolve: Resolver = systemResolver,
): Promise<string | null> {
  const early = refusedWebhookUrl(url, allow);
  if (early !== null) return `destination refused: ${early}`;
  const parsed = new URL(url);
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  if (isAllowListedHost(parsed, allow) || isIP(host) !== 0) return null;
  let addresses: ReadonlyArray<{ address: string }>;
  try {
    addresses = await resolve(host);
  } catch {
    return null;
  }
  for (const { address } of addresses) {
    const why = refusedAddress(address, allow);
    if (why !== null) return `destination refused: ${host} resolves to ${why}`;
  }
  return null;
}
