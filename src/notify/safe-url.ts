/**
 * A webhook URL as it may appear in logs and listings: its origin only. The path, query string,
 * fragment and user:password can all carry the webhook's secret (Slack puts it in the path), so
 * logs and listings name the webhook by its policy name and show no more than where it points.
 */
export function safeUrl(url: string): string {
  try {
    return `${new URL(url).origin}/…`;
  } catch {
    return "(unparseable URL)";
  }
}
