/**
 * A webhook URL as it may appear in logs and listings: origin and path only. The query string, the
 * fragment and any user:password often carry the webhook's secret token.
 */
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return "(unparseable URL)";
  }
}
