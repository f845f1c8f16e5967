import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isAppError } from "../domain/errors.js";
import {
  checkpointSignatureProblem,
  parseCheckpointFile,
  signCheckpoint,
  signedBytes,
} from "./checkpoint.js";
import { loadSigningKey } from "./signing-key.js";

const dir = mkdtempSync(join(tmpdir(), "autopatch-checkpoint-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const key = loadSigningKey(join(dir, "a.pem"), { create: true });
const other = loadSigningKey(join(dir, "b.pem"), { create: true });
const signed = signCheckpoint(key, { seq: 42, hash: "ab".repeat(32), at: new Date("2026-05-01T10:00:00Z") });

describe("signed checkpoints", () => {
  it("sign the RFC 8785 bytes of their body, keys in order", () => {
    expect(signedBytes(signed.checkpoint).toString("utf8")).toBe(
      `{"at":"2026-05-01T10:00:00.000Z","format":"autopatch-audit-checkpoint/1","hash":"${"ab".repeat(32)}",` +
        `"keyId":"${key.keyId}","seq":42}`,
    );
    expect(checkpointSignatureProblem(signed, key.publicKey)).toBeNull();
  });

  it.each([
    ["a changed sequence", { ...signed, checkpoint: { ...signed.checkpoint, seq: 41 } }, /does not verify/],
    [
      "a changed hash",
      { ...signed, checkpoint: { ...signed.checkpoint, hash: "cd".repeat(32) } },
      /does not verify/,
    ],
    [
      "another key's id",
      { ...signed, checkpoint: { ...signed.checkpoint, keyId: other.keyId } },
      /names key/,
    ],
  ])("are rejected with %s", (_what, forged, problem) => {
    expect(checkpointSignatureProblem(forged, key.publicKey)).toMatch(problem);
  });

  it("are rejected by another key", () => {
    expect(checkpointSignatureProblem(signed, other.publicKey)).toMatch(/not the given key/);
  });

  it.each([
    ["", "file.jsonl"],
    ["{not json\n", "file.jsonl:1"],
    [`${JSON.stringify(signed)}\n{"checkpoint":{}}\n`, "file.jsonl:2"],
    [`${JSON.stringify({ ...signed, extra: 1 })}\n`, "file.jsonl:1"],
  ])("files that are not checkpoints are refused naming the line: %j", (text, where) => {
    let err: unknown;
    try {
      parseCheckpointFile(text, "file.jsonl");
    } catch (e) {
      err = e;
    }
    expect(isAppError(err) && { reason: err.reason, where: err.where }).toEqual({
      reason: "audit.checkpoint-invalid",
      where,
    });
  });

  it("files hold one checkpoint or a log of them", () => {
    const two = `${JSON.stringify(signed)}\n\n${JSON.stringify(signed)}\n`;
    expect(parseCheckpointFile(two, "f")).toHaveLength(2);
  });
});
