import { describe, expect, it } from "vitest";
import {
  escapeSlack,
  jsonNotification,
  type NotificationSubject,
  notificationBody,
  slackNotification,
} from "./payload.js";

const subject: NotificationSubject = {
  type: "change",
  id: "chg-42",
  title: "openssl 3.0.15-1~deb12u1 on env=prod",
  data: {
    policy: "prod-policy v3",
    start: "2026-11-21T01:00:00+01:00",
    assets: 12,
    emergency: false,
    phases: ["canary", "wave-1", "wave-2"],
    approver: null,
  },
};
const at = new Date("2026-11-20T10:00:00Z");
const key = "a".repeat(64);

describe("json notification", () => {
  it("carries the event, the subject, its data, when and the idempotency key", () => {
    expect(jsonNotification("scheduled", subject, at, key)).toEqual({
      event: "scheduled",
      subject: { type: "change", id: "chg-42", title: subject.title },
      data: subject.data,
      occurredAt: "2026-11-20T10:00:00.000Z",
      idempotencyKey: key,
    });
  });
});

describe("slack notification", () => {
  it.each([
    ["scheduled", "scheduled"],
    ["starting-soon", "starting soon"],
    ["started", "started"],
    ["paused", "paused"],
    ["failed", "failed"],
    ["rolled-back", "rolled back"],
    ["completed", "completed"],
  ] as const)("%s reads as “%s”", (event, words) => {
    const message = slackNotification(event, subject);
    expect(message.text).toBe(`${subject.title}: ${words}`);
    expect(message.blocks[0]).toEqual({
      type: "section",
      text: { type: "mrkdwn", text: `*${subject.title}*\nchange chg-42 ${words}` },
    });
  });

  it("lists the data as fields, values formatted for people", () => {
    const fields = slackNotification("scheduled", subject).blocks[1]?.fields?.map((f) => f.text);
    expect(fields).toEqual([
      "*policy*\nprod-policy v3",
      "*start*\n2026-11-21T01:00:00+01:00",
      "*assets*\n12",
      "*emergency*\nfalse",
      "*phases*\ncanary, wave-1, wave-2",
      "*approver*\n—",
    ]);
  });

  it("escapes Slack's control characters so data cannot inject links or mentions", () => {
    const message = slackNotification("failed", {
      ...subject,
      title: "a <b> & c",
      data: { note: "<!channel> <https://evil.example|click>" },
    });
    expect(message.blocks[0]?.text?.text).toContain("*a &lt;b&gt; &amp; c*");
    expect(message.blocks[1]?.fields?.[0]?.text).toBe(
      "*note*\n&lt;!channel&gt; &lt;https://evil.example|click&gt;",
    );
    expect(escapeSlack("x&y<z>")).toBe("x&amp;y&lt;z&gt;");
  });

  it("has no field section without data and nests objects as JSON", () => {
    expect(slackNotification("completed", { ...subject, data: {} }).blocks).toHaveLength(1);
    const nested = slackNotification("completed", {
      ...subject,
      data: { failed: { count: 1, assets: ["web-1"] } },
    });
    expect(nested.blocks[1]?.fields?.[0]?.text).toBe('*failed*\n{"count":1,"assets":["web-1"]}');
  });

  it("stays within Slack's block limits with much data", () => {
    const data = Object.fromEntries(Array.from({ length: 75 }, (_, i) => [`k${i}`, "v".repeat(2500)]));
    const message = slackNotification("failed", { ...subject, data });
    const sections = message.blocks.slice(1);
    expect(sections).toHaveLength(4);
    for (const s of sections) {
      expect(s.fields?.length).toBeLessThanOrEqual(10);
      for (const f of s.fields ?? []) expect(f.text.length).toBeLessThanOrEqual(2000);
    }
    expect(sections.at(-1)?.fields?.at(-1)?.text).toBe("*…*\n36 more");
  });
});

describe("notificationBody", () => {
  it("picks the webhook's format", () => {
    expect(notificationBody("json", "started", subject, at, key)).toHaveProperty("idempotencyKey", key);
    expect(notificationBody("slack", "started", subject, at, key)).toHaveProperty("blocks");
  });
});
