import { describe, expect, it } from "vitest";
import { retrying, sqlState, TRANSACTION_RETRY_STATES } from "./retry.js";

const pgError = (code: string) => Object.assign(new Error(`pg ${code}`), { code });
const quick = { attempts: 4, baseMs: 1, capMs: 2 };

describe("retrying named SQLSTATEs", () => {
  it.each([
    ["40001", true],
    ["40P01", true],
    ["23505", false],
    ["57P03", false],
  ])("%s is retried in a transaction: %s", async (code, retried) => {
    let calls = 0;
    const run = retrying(TRANSACTION_RETRY_STATES, quick, async () => {
      calls += 1;
      if (calls === 1) throw pgError(code);
      return "ok";
    });
    if (retried) await expect(run).resolves.toBe("ok");
    else await expect(run).rejects.toMatchObject({ code });
    expect(calls).toBe(retried ? 2 : 1);
  });

  it("gives up after its attempts with the last error", async () => {
    let calls = 0;
    await expect(
      retrying(TRANSACTION_RETRY_STATES, quick, async () => {
        calls += 1;
        throw pgError("40P01");
      }),
    ).rejects.toMatchObject({ code: "40P01" });
    expect(calls).toBe(quick.attempts);
  });

  it.each([
    [{ code: "40001" }, "40001"],
    [{ code: "SQLITE_BUSY" }, undefined],
    [new Error("plain"), undefined],
    ["40001", undefined],
  ])("reads the SQLSTATE of %j", (err, state) => {
    expect(sqlState(err)).toBe(state);
  });
});
