/**
 * The API locates a problem in the HTTP request (`/query/class`, `/body/labels/set/k`,
 * `/params/name`); a CLI user typed flags and arguments, so the CLI says `--class`, `--label k`,
 * `<name>`. The names line up because the commands' flags are named after the API's fields.
 */

/** Query parameters and body fields whose flag is not simply their name in kebab case. */
const FLAG_FOR: Readonly<Record<string, string>> = {
  cursor: "--after",
  labels: "--label",
  alsoPackages: "--package",
  expiresAt: "--expires",
  ttlSeconds: "--ttl",
};

const REQUEST_PARTS = ["query", "body", "params", "headers", "url"];

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function unescapeSegment(segment: string): string {
  return segment.replaceAll("~1", "/").replaceAll("~0", "~");
}

/** The flag or argument a request pointer names; anything else (a file location) as it was. */
export function userLocation(where: string): string {
  const [part, first, ...rest] = where.slice(1).split("/").map(unescapeSegment);
  // Only pointers into the request: a file location such as /etc/policy.yaml:3:7 stays as it is.
  if (!where.startsWith("/") || !REQUEST_PARTS.includes(part ?? "") || /:\d+(:\d+)?$/.test(where))
    return where;
  if (part === "params" && first !== undefined) return `<${kebab(first)}>`;
  if ((part === "query" || part === "body") && first !== undefined && first !== "") {
    const flag = FLAG_FOR[first] ?? `--${kebab(first)}`;
    // A label's key (`/body/labels/set/tier`) is what the user typed after --label.
    const key = first === "labels" ? rest.filter((s) => s !== "set" && s !== "remove")[0] : rest[0];
    return key === undefined ? flag : `${flag} ${key}`;
  }
  if (part === "body") return "the input";
  if (part === "headers") return "the request headers";
  if (part === "url") return "the request URL";
  return where;
}
