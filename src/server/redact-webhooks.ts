/**
 * Webhook URLs carry their secret (Slack puts it in the path, others in the query string), so only
 * admins read them whole; everyone else sees each webhook's origin, as logs and the outbox show it.
 */
import { isMap, isScalar, isSeq, parseDocument } from "yaml";
import { safeUrl } from "../notify/safe-url.js";
import type { Policy } from "../policy/schema.js";

export interface ShownPolicy {
  content: string;
  policy: Policy;
}

/** The policy and its YAML with every webhook URL cut to its origin. */
export function redactWebhookUrls({ content, policy }: ShownPolicy): ShownPolicy {
  const urls = policy.notifications.webhooks.map((w) => w.url);
  if (urls.length === 0) return { content, policy };
  const redacted: Policy = {
    ...policy,
    notifications: {
      ...policy.notifications,
      webhooks: policy.notifications.webhooks.map((w) => ({ ...w, url: safeUrl(w.url) })),
    },
  };
  return { content: redactYaml(content, urls), policy: redacted };
}

function redactYaml(content: string, urls: readonly string[]): string {
  const doc = parseDocument(content);
  const hooks = doc.getIn(["notifications", "webhooks"], true);
  if (isSeq(hooks)) {
    for (const hook of hooks.items) {
      if (!isMap(hook)) continue;
      const url = hook.get("url", true);
      if (isScalar(url) && typeof url.value === "string") url.value = safeUrl(url.value);
    }
  }
  // A URL may also appear outside its field (a comment, an anchor used elsewhere): cut it there too.
  let text = doc.toString();
  for (const url of urls) text = text.replaceAll(url, safeUrl(url));
  return text;
}
