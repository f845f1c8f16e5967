/**
 * Ends the HTTP connections that hold no request when the server closes, and each busy one as soon as
 * its last answer is sent. Node's own sweep misses sockets that never sent a request (a load balancer's
 * pre-opened connection) and those that turn idle during the close; server.close() would wait on them.
 */
import type { Server } from "node:http";
import type { Socket } from "node:net";

export interface IdleSockets {
  /** From now on no connection outlives its requests in flight. */
  closeIdle(): void;
}

export function trackIdleSockets(server: Server): IdleSockets {
  const inFlight = new Map<Socket, number>();
  let closing = false;
  server.on("connection", (socket: Socket) => {
    inFlight.set(socket, 0);
    socket.once("close", () => inFlight.delete(socket));
  });
  server.on("request", (req, res) => {
    const socket = req.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    res.once("close", () => {
      const left = Math.max(0, (inFlight.get(socket) ?? 1) - 1);
      if (inFlight.has(socket)) inFlight.set(socket, left);
      if (closing && left === 0) socket.end();
    });
  });
  return {
    closeIdle() {
      closing = true;
      for (const [socket, n] of inFlight) if (n === 0) socket.destroy();
    },
  };
}
