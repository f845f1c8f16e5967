/** PEP 503 normalised name: lowercase, every run of "-", "_" or "." becomes one "-". */
export function normalizePypiName(name: string): string {
  return name.replace(/[-_.]+/g, "-").toLowerCase();
}
