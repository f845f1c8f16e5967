/**
 * The benches' HTTP sender: node:http over kept-alive connections, at most `lanes` at once. fetch
 * (undici) copied every body into a web stream and cost the load generator about as much CPU as the
 * server spent on a full inventory report, which on two cores the server then lacked.
 */
import { Agent, request as httpRequest, type OutgoingHttpHeaders } from "node:http";

export interface Answer {
  status: number;
  /** The body as text; empty when the request asked not to read it. */
  text: string;
}

export interface Sender {
  /**
   * One request to `path` on the server. With `read: false` the body is drained unread (a bench that
   * checks the status only spends nothing on it).
   */
  send(
    method: string,
    path: string,
    headers: OutgoingHttpHeaders,
    body?: string | Buffer,
    read?: boolean,
  ): Promise<Answer>;
  /** Closes the kept-alive connections. */
  close(): void;
}

export function keptAliveSender(baseUrl: string, lanes: number): Sender {
  const agent = new Agent({ keepAlive: true, maxSockets: lanes });
  const { hostname, port } = new URL(baseUrl);
  const host = hostname.replace(/^\[|\]$/g, "");
  return {
    send: (method, path, headers, body, read = true) =>
      new Promise<Answer>((resolve, reject) => {
        const req = httpRequest({ host, port, method, path, headers, agent }, (res) => {
          res.on("error", reject);
          if (!read) {
            res.resume();
            res.on("end", () => resolve({ status: res.statusCode ?? 0, text: "" }));
            return;
          }
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
          );
        });
        req.on("error", reject);
        req.end(body);
      }),
    close: () => agent.destroy(),
  };
}
