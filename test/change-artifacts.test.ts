import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createChange, submitChange } from "../src/changes/service.js";
import type { ServiceContext } from "../src/service/context.js";
import { userActor } from "./helpers/actors.js";
import { installed } from "./helpers/assets.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

const OPS = userActor("ops", "operator");
const OLD = "1:9.2p1-2+deb12u2";
const NEW = "1:9.2p1-2+deb12u3";

describe.each(DIALECTS)("a change's files cover its installed binaries, on %s", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;
  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store, () => new Date("2026-11-20T10:00:00Z"));
    await installed(ctx, "bastion-1", [["openssh-client", OLD]], { group: "ops", region: "eu" });
  });
  afterAll(async () => store?.dispose());

  it("refuses at submit a binary installed on a target since the draft that no file covers", async () => {
    const draft = await createChange(ctx, OPS, {
      package: "openssh-client",
      alsoPackages: ["openssh-server"],
      version: NEW,
      artifact: { name: "openssh-client.deb", sha256: "c".repeat(64) },
      selector: "",
      justification: "CVE fixes",
    });
    expect(draft.state).toBe("draft");
    await installed(ctx, "bastion-1", [
      ["openssh-client", OLD],
      ["openssh-server", OLD],
    ]);
    await expect(submitChange(ctx, OPS, draft.id)).rejects.toMatchObject({
      reason: "change.artifact-missing",
      where: "/artifacts",
      message: expect.stringContaining("openssh-server is installed below"),
    });
    // Refused at create too, now that the fleet has it; a change without files is not concerned.
    await expect(
      createChange(ctx, OPS, {
        package: "openssh-client",
        alsoPackages: ["openssh-server"],
        version: NEW,
        artifact: { name: "openssh-client.deb", sha256: "c".repeat(64) },
        selector: "",
        justification: "CVE fixes",
      }),
    ).rejects.toMatchObject({ reason: "change.artifact-missing" });
    const viaRepo = await createChange(ctx, OPS, {
      package: "openssh-client",
      alsoPackages: ["openssh-server"],
      version: NEW,
      source: "apt",
      selector: "",
      justification: "CVE fixes",
    });
    expect(viaRepo.state).toBe("draft");
  });
});
