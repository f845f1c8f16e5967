/**
 * Where a webhook may point. A policy author must not be able to make the server post to itself, to the
 * cloud metadata service (169.254.169.254) or into the private network behind it: only http(s) URLs
 * whose host is a public unicast address are allowed, unless the server's allow-list (`--webhook-allow
 * CIDR|host`) names the host or a range holding its address. The URL is checked when a policy is
 * validated or applied; the addresses a host name resolves to are checked again at delivery.
 */
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import { ValidationError } from "../domain/errors.js";

const WEBHOOK_PROTOCOLS = ["http:", "https:"] as const;

/** The server's allow-list, parsed: host names (lower case) and address ranges. */
export interface WebhookAllowList {
  hosts: ReadonlySet<string>;
  ranges: ReadonlyArray<[ipaddr.IPv4 | ipaddr.IPv6, number]>;
}

export const EMPTY_ALLOW_LIST: WebhookAllowList = { hosts: new Set(), ranges: [] };

const HOST_NAME =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/;

/** Reads allow-list entries (CIDR, address or host name); ValidationError at `where` for one that is none. */
export function parseWebhookAllowList(
  entries: readonly string[],
  where = "--webhook-allow",
): WebhookAllowList {
  const hosts = new Set<string>();
  const ranges: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]> = [];
  for (const raw of entries) {
    const entry = raw
      .trim()
      .toLowerCase()
      .replace(/^\[|\]$/g, "");
    if (entry === "") continue;
    if (entry.includes("/")) {
      if (!ipaddr.isValidCIDR(entry)) {
        throw new ValidationError(`"${raw}" is not a CIDR range (e.g. 10.0.0.0/8, fd00::/8)`, { where });
      }
      const [address, bits] = ipaddr.parseCIDR(entry);
      ranges.push([normalise(address), address.kind() === "ipv6" && isMapped(address) ? bits - 96 : bits]);
    } else if (isIP(entry) !== 0) {
      const address = normalise(ipaddr.parse(entry));
      ranges.push([address, address.kind() === "ipv4" ? 32 : 128]);
    } else if (HOST_NAME.test(entry)) {
      hosts.add(entry.replace(/\.$/, ""));
    } else {
      throw new ValidationError(`"${raw}" is not a CIDR range, an IP address or a host name`, { where });
    }
  }
  return { hosts, ranges };
}

/** Entries from a comma- or space-separated environment variable. */
export function splitAllowListEnv(value: string | undefined): string[] {
  return (value ?? "").split(/[\s,]+/).filter((e) => e !== "");
}

function isMapped(address: ipaddr.IPv4 | ipaddr.IPv6): boolean {
  return address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress();
}

// An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is the IPv4 address it carries.
function normalise(address: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  return address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress() ? address.toIPv4Address() : address;
}

function allowedRange(address: ipaddr.IPv4 | ipaddr.IPv6, allow: WebhookAllowList): boolean {
  return allow.ranges.some(([net, bits]) => net.kind() === address.kind() && address.match(net, bits));
}

/**
 * Why an address may not be posted to, or null when it may: only public unicast addresses are allowed
 * by default (ipaddr.js names every special-purpose range: loopback, private, linkLocal, uniqueLocal,
 * carrierGradeNat, NAT64 and 6to4 forms that can reach them, …).
 */
export function refusedAddress(text: string, allow: WebhookAllowList): string | null {
  const bare = text.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (!ipaddr.isValid(bare)) return `"${text}" is not an IP address`;
  const address = normalise(ipaddr.parse(bare));
  const range = address.range();
  if (range === "unicast" || allowedRange(address, allow)) return null;
  return `${address.toString()}, a ${range} address`;
}

/** The host a URL names, lower case, without the brackets of an IPv6 literal. */
function hostOf(url: URL): string {
  return url.hostname.toLowerCase().replace(/^\[|\]$/g, "");
}

export function isAllowListedHost(url: URL, allow: WebhookAllowList): boolean {
  return allow.hosts.has(hostOf(url).replace(/\.$/, ""));
}

/**
 * Why a webhook URL is refused before anything is resolved, or null: not http(s), or a host that is a refused address literal or a name for this machine (`localhost`, `*.localhost`).
 */
export function refusedWebhookUrl(text: string, allow: WebhookAllowList): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "is not a URL";
  }
  if (!(WEBHOOK_PROTOCOLS as readonly string[]).includes(url.protocol)) {
    return `uses ${url.protocol.replace(/:$/, "")}; a webhook must be an http or https URL`;
  }
  if (isAllowListedHost(url, allow)) return null;
  const host = hostOf(url).replace(/\.$/, "");
  if (isIP(host) !== 0) {
    const why = refusedAddress(host, allow);
    return why === null
      ? null
      : `points at ${why}; the server posts only to public addresses unless its --webhook-allow names them`;
  }
  if (host === "localhost" || host.endsWith(".localhost")) {
    return `points at ${host}, this machine; the server posts only to public addresses unless its --webhook-allow names them`;
  }
  return null;
}
