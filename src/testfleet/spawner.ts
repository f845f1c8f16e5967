/**
 * Child processes started from a worker thread, for processes that run many hosts at once (the
 * large bench's in-process agents, the scenarios' sampler beside an in-process server). On Linux
 * `spawn` blocks its thread until the child has exec'd; under load that is several milliseconds, and
 * with every agent and host service in one process each `dpkg -i` then stalled all the other hosts'
 * requests, health checks and heartbeats. A real agent is a process of its own, where that wait holds
 * up nobody else: a worker thread gives such a process the same. Only callback calls with cloneable
 * options go through it (runDpkgTool's); the fork and its CPU are still this process's.
 */
import type childProcess from "node:child_process";
import { Worker } from "node:worker_threads";

const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { execFile } = require("node:child_process");
parentPort.on("message", ({ id, file, args, options }) => {
  execFile(file, args, options, (error, stdout, stderr) => {
    const failure = error && { message: error.message, code: error.code, signal: error.signal, killed: error.killed, cmd: error.cmd };
    parentPort.postMessage({ id, error: failure, stdout, stderr });
  });
});
`;

type Callback = (error: Error | null, stdout: string, stderr: string) => void;

interface Answer {
  id: number;
  error: { message: string; code?: unknown; signal?: unknown; killed?: boolean; cmd?: string } | null;
  stdout: string;
  stderr: string;
}

/** Wraps `execFile`: calls it can hand to the worker go there, the others to `original`. */
export function spawnerExecFile(original: typeof childProcess.execFile): {
  execFile: (file: string, ...rest: unknown[]) => unknown;
  close: () => Promise<number>;
} {
  const worker = new Worker(WORKER_SOURCE, { eval: true });
  worker.unref();
  const waiting = new Map<number, Callback>();
  let nextId = 0;
  worker.on("message", (m: Answer) => {
    const callback = waiting.get(m.id);
    waiting.delete(m.id);
    if (waiting.size === 0) worker.unref();
    if (!callback) return;
    if (m.error === null) return callback(null, m.stdout, m.stderr);
    const error = Object.assign(new Error(m.error.message), m.error);
    callback(error, m.stdout, m.stderr);
  });
  const execFile = (file: string, ...rest: unknown[]): unknown => {
    const [args, options, callback] = rest;
    const cloneable =
      Array.isArray(args) &&
      typeof options === "object" &&
      options !== null &&
      Object.values(options).every((v) => typeof v !== "function" && !(v instanceof AbortSignal)) &&
      typeof callback === "function";
    if (!cloneable) return (original as (...a: unknown[]) => unknown)(file, ...rest);
    const id = nextId++;
    waiting.set(id, callback as Callback);
    worker.ref();
    worker.postMessage({ id, file, args, options });
    return undefined;
  };
  return { execFile, close: () => worker.terminate() };
}
