/** Roles of people and scripts. Agents hold their own kind of credential, scoped to one asset. */
export const ROLES = ["viewer", "operator", "approver", "admin"] as const;
export type Role = (typeof ROLES)[number];

/**
 * What a role may do. Approvers approve but do not operate, operators operate but do not approve:
 * separation of duties starts here.
 */
export type Permission = "read" | "operate" | "approve" | "admin";

const GRANTS: Record<Role, readonly Permission[]> = {
  viewer: ["read"],
  operator: ["read", "operate"],
  approver: ["read", "approve"],
  admin: ["read", "operate", "approve", "admin"],
};

export function roleAllows(role: Role, permission: Permission): boolean {
  return GRANTS[role].includes(permission);
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** Who is acting: recorded on every audit event. */
export interface Actor {
  kind: "user" | "agent" | "system";
  /** Token id for users and agents; "system" for the server itself. */
  id: string;
  name: string;
  /** The person or service account behind the token: separation of duties compares this, never `name`. */
  principal: string;
  /** Agents have no role; they may only act for their own asset. */
  role: Role | null;
  assetId: string | null;
}

export const SYSTEM_ACTOR: Actor = {
  kind: "system",
  id: "system",
  name: "system",
  principal: "system",
  role: "admin",
  assetId: null,
};

/**
 * Whoever runs a command directly on the store on the server's host (`--database`), without a token:
 * only someone who can reach the database can be this actor, and the audit log records it as such.
 */
export const OFFLINE_ACTOR: Actor = {
  kind: "system",
  id: "offline",
  name: "offline",
  principal: "offline",
  role: "admin",
  assetId: null,
};

export function actorLabel(actor: Actor): string {
  return actor.kind === "system" ? actor.name : `${actor.kind}:${actor.name}`;
}
