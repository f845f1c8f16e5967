import type { NotificationEvent } from "../policy/schema.js";

/** What a notification is about. */
export interface NotificationSubject {
  type: "change";
  id: string;
  title: string;
  data: Record<string, unknown>;
}

export type NotificationFormat = "json" | "slack";

/** The `json` format: the event as data, for programs. */
export interface JsonNotification {
  event: NotificationEvent;
  subject: { type: NotificationSubject["type"]; id: string; title: string };
  data: Record<string, unknown>;
  occurredAt: string;
  idempotencyKey: string;
}

export interface SlackText {
  type: "mrkdwn";
  text: string;
}

export interface SlackSection {
  type: "section";
  text?: SlackText;
  fields?: SlackText[];
}

/** The `slack` format: what a Slack incoming webhook (and the many services that copy it) accepts. */
export interface SlackMessage {
  text: string;
  blocks: SlackSection[];
}

const EVENT_WORDS: Record<NotificationEvent, string> = {
  scheduled: "scheduled",
  "starting-soon": "starting soon",
  started: "started",
  paused: "paused",
  resumed: "resumed",
  failed: "failed",
  "rolled-back": "rolled back",
  completed: "completed",
};

// Slack Block Kit limits (api.slack.com/reference/block-kit/blocks#section): a section's text holds at
// most 3000 characters, its fields at most 10 items of at most 2000 characters; a message, 50 blocks.
const SECTION_TEXT_MAX = 3000;
const FIELD_TEXT_MAX = 2000;
const FIELDS_PER_SECTION = 10;
const MAX_FIELD_SECTIONS = 4;

export function jsonNotification(
  event: NotificationEvent,
  subject: NotificationSubject,
  occurredAt: Date,
  idempotencyKey: string,
): JsonNotification {
  return {
    event,
    subject: { type: subject.type, id: subject.id, title: subject.title },
    data: subject.data,
    occurredAt: occurredAt.toISOString(),
    idempotencyKey,
  };
}

/** A section with the title and the event, then the data as label/value fields. */
export function slackNotification(event: NotificationEvent, subject: NotificationSubject): SlackMessage {
  const words = EVENT_WORDS[event];
  const text = `${subject.title}: ${words}`;
  const blocks: SlackSection[] = [
    {
      type: "section",
      text: mrkdwn(
        `*${escapeSlack(subject.title)}*\n${subject.type} ${escapeSlack(subject.id)} ${words}`,
        SECTION_TEXT_MAX,
      ),
    },
  ];
  const fields = Object.entries(subject.data).map(([key, value]) =>
    mrkdwn(`*${escapeSlack(key)}*\n${escapeSlack(formatValue(value))}`, FIELD_TEXT_MAX),
  );
  const room = FIELDS_PER_SECTION * MAX_FIELD_SECTIONS;
  if (fields.length > room) {
    // Keep the message within Slack's limits; the json format carries the whole data.
    const hidden = fields.length - (room - 1);
    fields.splice(room - 1, fields.length, mrkdwn(`*…*\n${hidden} more`, FIELD_TEXT_MAX));
  }
  for (let i = 0; i < fields.length; i += FIELDS_PER_SECTION) {
    blocks.push({ type: "section", fields: fields.slice(i, i + FIELDS_PER_SECTION) });
  }
  return { text, blocks };
}

/** The request body for a webhook's format. */
export function notificationBody(
  format: NotificationFormat,
  event: NotificationEvent,
  subject: NotificationSubject,
  occurredAt: Date,
  idempotencyKey: string,
): JsonNotification | SlackMessage {
  return format === "slack"
    ? slackNotification(event, subject)
    : jsonNotification(event, subject, occurredAt, idempotencyKey);
}

function mrkdwn(text: string, max: number): SlackText {
  return { type: "mrkdwn", text: text.length > max ? `${text.slice(0, max - 1)}…` : text };
}

/** Slack reads &, < and > as control characters in message text; these three must be escaped. */
export function escapeSlack(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

function formatValue(value: unknown): string {
  if (value === null || value === undefined) return "—";
  if (typeof value === "string") return value === "" ? "—" : value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
    return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v === "string" || typeof v === "number")) {
    return value.length === 0 ? "—" : value.join(", ");
  }
  return JSON.stringify(value);
}
