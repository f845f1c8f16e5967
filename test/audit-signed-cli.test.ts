import { spawnSync } from "node:child_process";
import { createHash, createPublicKey, verify } from "node:crypto";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "kysely";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isAppError } from "../src/domain/errors.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { createAsset, updateAsset } from "../src/inventory/assets.js";
import { type RunningServer, startServer } from "../src/server/start.js";
import { truncateFrom } from "./helpers/audit-attacks.js";
import { runCli } from "./helpers/cli.js";

const ADMIN = "apt_audit-signed-admin-token-0123456789";

// An outsider's verifier: node:crypto and the published rules only, none of autopatch's code.
// RFC 8785 for JSON-parsed values: object keys sorted by UTF-16 code units, ECMAScript number and
// string serialisation (which JSON.stringify already does), no whitespace.
function jcs(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(jcs).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${jcs(v)}`).join(",")}}`;
}

function independentVerify(exportText: string, publicKeyPem: string): { events: number; seq: number } {
  const lines = exportText
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const last = lines.pop() as { checkpoint: Record<string, unknown>; signature: string };
  const key = createPublicKey(publicKeyPem);
  const body = Buffer.from(jcs(last.checkpoint), "utf8");
  if (!verify(null, body, key, Buffer.from(last.signature, "base64"))) throw new Error("bad signature");
  const keyId = createHash("sha256")
    .update(key.export({ type: "spki", format: "der" }))
    .digest("hex");
  if (last.checkpoint.keyId !== keyId) throw new Error("another key");
  let prev = last.checkpoint.first === 1 ? "0".repeat(64) : null;
  let seq = Number(last.checkpoint.first) - 1;
  for (const event of lines) {
    const { hash, ...rest } = event;
    if (event.seq !== seq + 1) throw new Error(`gap before ${String(event.seq)}`);
    if (prev !== null && event.prevHash !== prev) throw new Error(`bad link at ${String(event.seq)}`);
    if (createHash("sha256").update(jcs(rest), "utf8").digest("hex") !== hash) throw new Error("bad hash");
    prev = hash as string;
    seq += 1;
  }
  if (seq !== last.checkpoint.seq || (lines.length > 0 && prev !== last.checkpoint.hash)) {
    throw new Error("the checkpoint does not name the last event");
  }
  return { events: lines.length, seq };
}

describe("signed audit checkpoints and exports through the server and the CLI", () => {
  let dir: string;
  let server: RunningServer;
  let env: Record<string, string>;
  const db = () => server.ctx.store.db;
  const keyFile = () => join(dir, "autopatch.audit-key.pem");
  const logFile = () => join(dir, "autopatch.audit-checkpoints.jsonl");
  const database = () => `sqlite:${join(dir, "autopatch.db")}`;

  async function start(intervalMs?: number): Promise<RunningServer> {
    return startServer({
      databaseUrl: database(),
      listen: "127.0.0.1:0",
      adminToken: ADMIN,
      logger: pino({ level: "silent" }),
      ...(intervalMs === undefined ? {} : { audit: { checkpointIntervalMs: intervalMs } }),
    });
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "autopatch-audit-signed-"));
    server = await start();
    env = { AUTOPATCH_SERVER: server.url, AUTOPATCH_TOKEN: ADMIN };
    await createAsset(server.ctx, SYSTEM_ACTOR, "web-1", {});
    // Six events in all: the bootstrap admin's principal and token, the asset and three updates.
    for (let i = 0; i < 3; i++) await updateAsset(server.ctx, SYSTEM_ACTOR, "web-1", { owner: `team-${i}` });
  });
  afterEach(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps the key beside the store with mode 0600 and prints its public key", async () => {
    expect(statSync(keyFile()).mode & 0o777).toBe(0o600);
    const online = await runCli(["audit", "public-key"], env);
    expect(online.code).toBe(0);
    const expected = createPublicKey(readFileSync(keyFile()))
      .export({ type: "spki", format: "pem" })
      .toString();
    expect(online.stdout).toBe(expected);
    expect(online.stdout).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const offline = await runCli(["audit", "public-key", "--database", database()]);
    expect(offline).toMatchObject({ code: 0, stdout: expected });
  });

  it("refuses a key file that its group or others may read, as ssh does", async () => {
    const loose = join(dir, "loose-key.pem");
    copyFileSync(keyFile(), loose);
    chmodSync(loose, 0o640);
    const err = await startServer({
      databaseUrl: `sqlite:${join(dir, "other.db")}`,
      listen: "127.0.0.1:0",
      logger: pino({ level: "silent" }),
      audit: { keyFile: loose },
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isAppError(err) && err.reason).toBe("audit.key-permissions");
    expect(isAppError(err) && err.message).toMatch(/0640 .* too open.*chmod 600/);
  });

  it("exports JSON Lines that the key alone verifies: autopatch, an independent verifier and openssl", async () => {
    const exported = await runCli(["audit", "export"], env);
    expect(exported.code).toBe(0);
    const lines = exported.stdout.trim().split("\n");
    expect(lines).toHaveLength(6 + 1);
    const file = join(dir, "export.jsonl");
    writeFileSync(file, exported.stdout);
    const pub = join(dir, "audit-public.pem");
    writeFileSync(pub, (await runCli(["audit", "public-key"], env)).stdout);

    const verified = await runCli(["audit", "verify", "--export", file, "--public-key", pub]);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/export intact and signed: 6 events \(1 to 6\)/);
    expect(independentVerify(exported.stdout, readFileSync(pub, "utf8"))).toEqual({ events: 6, seq: 6 });

    // openssl checks the signature over the canonical checkpoint bytes, as the README shows.
    const last = JSON.parse(lines.at(-1) ?? "") as { checkpoint: unknown; signature: string };
    writeFileSync(join(dir, "checkpoint.json"), jcs(last.checkpoint));
    writeFileSync(join(dir, "checkpoint.sig"), Buffer.from(last.signature, "base64"));
    const openssl = (input: string) =>
      spawnSync(
        "openssl",
        [
          "pkeyutl",
          "-verify",
          "-pubin",
          "-inkey",
          pub,
          "-rawin",
          "-in",
          input,
          "-sigfile",
          join(dir, "checkpoint.sig"),
        ],
        { encoding: "utf8" },
      );
    const good = openssl(join(dir, "checkpoint.json"));
    if (good.error) {
      throw new Error(
        `openssl is not installed, so the README's openssl check could not be tested: install it (Debian/Ubuntu: apt-get install openssl) and run again (${good.error.message})`,
      );
    }
    expect(good.status).toBe(0);
    expect(good.stdout).toMatch(/Signature Verified Successfully/);
    writeFileSync(join(dir, "forged.json"), jcs({ ...(last.checkpoint as object), seq: 5 }));
    expect(openssl(join(dir, "forged.json")).status).not.toBe(0);

    // A line edited in the file: exit 6, naming the line.
    const tampered = lines.map((l, i) =>
      i === 2 ? l.replace('"actor":"system"', '"actor":"user:mallory"') : l,
    );
    expect(tampered[2]).not.toBe(lines[2]);
    writeFileSync(file, `${tampered.join("\n")}\n`);
    const broken = await runCli(["audit", "verify", "--export", file, "--public-key", pub]);
    expect(broken.code).toBe(6);
    expect(broken.stderr).toMatch(
      /export BROKEN at .*export\.jsonl:3 \(event 3\): content does not match its hash/,
    );
    // Signed by another key: exit 6 as well.
    const other = await startServer({
      databaseUrl: `sqlite:${join(dir, "other.db")}`,
      listen: "127.0.0.1:0",
      logger: pino({ level: "silent" }),
    });
    writeFileSync(pub, other.checkpointer.key.publicKeyPem);
    await other.close();
    writeFileSync(file, exported.stdout);
    const foreign = await runCli(["audit", "verify", "--export", file, "--public-key", pub]);
    expect(foreign.code).toBe(6);
    expect(foreign.stderr).toMatch(/export\.jsonl:7: the checkpoint does not verify: it names key/);
  });

  it("exports a time range with --since and --until", async () => {
    const at = (await db().selectFrom("audit_events").select("at").orderBy("seq").execute()).map((r) => r.at);
    const exported = await runCli(["audit", "export", "--since", at[1] ?? "", "--until", at[3] ?? ""], env);
    expect(exported.code).toBe(0);
    const seqs = exported.stdout
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { seq?: number }).seq);
    // Times may repeat within a millisecond; the range is whole events, in chain order.
    expect(seqs.at(-1)).toBeUndefined();
    expect(seqs[0]).toBeLessThanOrEqual(2);
    const bad = await runCli(["audit", "export", "--since", "yesterday"], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--since: "yesterday" is not an ISO 8601 date/);
  });

  it("catches cut-off events with a checkpoint file, online and offline, where the chain alone looks intact", async () => {
    const file = join(dir, "kept-elsewhere.jsonl");
    const made = await runCli(["audit", "checkpoint", "--out", file], env);
    expect(made.code).toBe(0);
    expect(made.stdout).toMatch(/checkpoint of event 6 .* appended to/);
    expect((await runCli(["audit", "verify", "--checkpoint", file], env)).code).toBe(0);

    await truncateFrom(db(), 4);
    // The chain alone is consistent: only a checkpoint can tell.
    expect((await runCli(["audit", "verify", "--database", database()])).code).toBe(0);
    const plain = await runCli(["audit", "verify"], env);
    expect(plain.code).toBe(6);
    expect(plain.stderr).toMatch(/cut off the end/);
    const online = await runCli(["audit", "verify", "--checkpoint", file], env);
    expect(online.code).toBe(6);
    expect(online.stderr).toMatch(
      /BROKEN at event 4: the chain ends at event 3 but the checkpoint .* covers event 6/,
    );
    const offline = await runCli(["audit", "verify", "--checkpoint", file, "--database", database()]);
    expect(offline.code).toBe(6);
    // The server's own log, written on start and on demand, catches it too.
    expect((await runCli(["audit", "verify", "--checkpoint", logFile()], env)).code).toBe(6);
    // And the server no longer signs this chain.
    const refused = await runCli(["audit", "checkpoint", "--out", join(dir, "x.jsonl")], env);
    expect(refused.code).toBe(6);
    expect(refused.stderr).toMatch(/cut off the end; nothing was signed/);
  });

  it("exports and signs offline on the server's host with its key file, which it never creates", async () => {
    await server.checkpointer.checkpoint();
    const logged = readFileSync(logFile(), "utf8");
    const exported = await runCli(["audit", "export", "--database", database()]);
    expect(exported.code).toBe(0);
    writeFileSync(join(dir, "offline.jsonl"), exported.stdout);
    writeFileSync(join(dir, "pub.pem"), server.checkpointer.key.publicKeyPem);
    const verified = await runCli([
      "audit",
      "verify",
      "--export",
      join(dir, "offline.jsonl"),
      "--public-key",
      join(dir, "pub.pem"),
    ]);
    expect(verified.code).toBe(0);
    const out = join(dir, "offline-cp.jsonl");
    expect((await runCli(["audit", "checkpoint", "--out", out, "--database", database()])).code).toBe(0);
    expect((await runCli(["audit", "verify", "--checkpoint", out, "--database", database()])).code).toBe(0);
    // The server's log is the server's: offline commands only read it.
    expect(readFileSync(logFile(), "utf8")).toBe(logged);
    const missing = await runCli([
      "audit",
      "export",
      "--database",
      database(),
      "--audit-key",
      join(dir, "none.pem"),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no audit signing key at .*none\.pem/);
  });

  it("answers bad input to the audit routes with a 400 that says where", async () => {
    const call = async (path: string, body?: unknown) => {
      const response = await fetch(`${server.url}${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as { error: { where?: string } } };
    };
    expect(await call("/api/v1/audit/export?since=soon")).toMatchObject({
      status: 400,
      body: { error: { where: "/query/since" } },
    });
    const bad = await call("/api/v1/audit/verify", {
      checkpoints: [{ checkpoint: { seq: 1 }, signature: "x" }],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.where).toMatch(/^\/body\/checkpoints\/0/);
  });

  it("needs the admin role to sign on demand", async () => {
    const viewer = await runCli(["token", "create", "--role", "viewer", "--name", "auditor", "--json"], env);
    const token = (JSON.parse(viewer.stdout) as { token: string }).token;
    const denied = await runCli(["audit", "checkpoint", "--out", join(dir, "cp.jsonl")], {
      ...env,
      AUTOPATCH_TOKEN: token,
    });
    expect(denied.code).toBe(5);
    expect((await runCli(["audit", "export"], { ...env, AUTOPATCH_TOKEN: token })).code).toBe(0);
  });

  it("exits 6 naming the damage when the head row is missing or an event's data is not JSON", async () => {
    await sql`delete from audit_head`.execute(db());
    const noHead = await runCli(["audit", "verify"], env);
    expect(noHead.code).toBe(6);
    expect(noHead.stderr).toMatch(/BROKEN at event \d+: the chain's head row is missing/);
    await sql`insert into audit_head (id, seq, hash) select 1, seq, hash from audit_events order by seq desc limit 1`.execute(
      db(),
    );
    const id = (
      await db().selectFrom("audit_events").select("id").where("seq", "=", 3).executeTakeFirstOrThrow()
    ).id;
    await sql`update audit_events set data = '{"owner": "tea' where seq = 3`.execute(db());
    for (const args of [
      ["audit", "verify"],
      ["audit", "verify", "--database", database()],
      ["audit", "list"],
    ]) {
      const damaged = await runCli(args, args.includes("--database") ? {} : env);
      expect(damaged.code).toBe(6);
      expect(damaged.stderr).toContain(id);
      expect(damaged.stderr).toMatch(/3.*data is not JSON/);
    }
  });

  it("signs the head at the interval only when it moved, and stops on close", async () => {
    await server.close();
    server = await start(1000);
    env = { AUTOPATCH_SERVER: server.url, AUTOPATCH_TOKEN: ADMIN };
    const logged = () =>
      readFileSync(logFile(), "utf8")
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { checkpoint: { seq: number } }).checkpoint.seq);
    await updateAsset(server.ctx, SYSTEM_ACTOR, "web-1", { owner: "later" });
    const head = Number((await db().selectFrom("audit_head").select("seq").executeTakeFirstOrThrow()).seq);
    for (let i = 0; i < 50 && logged().at(-1) !== head; i++) await sleep(100);
    expect(logged().at(-1)).toBe(head);
    const count = logged().length;
    await sleep(2200);
    expect(logged()).toHaveLength(count);
    await server.close();
    await sleep(1200);
    expect(logged()).toHaveLength(count);
    server = await start();
  });
});
