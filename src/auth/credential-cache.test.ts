import { expect, it } from "vitest";
import type { Actor } from "../domain/roles.js";
import type { Store } from "../store/store.js";
import {
  CREDENTIAL_TTL_MS,
  credentialGeneration,
  forgetCredentials,
  rememberCredential,
  rememberedCredential,
} from "./credential-cache.js";

const actor: Actor = {
  kind: "agent",
  id: "t1",
  name: "web-1",
  principal: "agent:a1",
  role: null,
  assetId: "a1",
};
// The cache keys on the store object only: any distinct object is a distinct store.
const storeStub = () => ({}) as Store;

it("remembers a credential for the TTL only", () => {
  const store = storeStub();
  rememberCredential(store, "h", actor, 0, credentialGeneration(store), 1000);
  expect(rememberedCredential(store, "h", 1000 + CREDENTIAL_TTL_MS - 1)?.actor).toBe(actor);
  expect(rememberedCredential(store, "h", 1000 + CREDENTIAL_TTL_MS)).toBeNull();
});

it("forgets every credential at once, and a lookup that began before the forget stores nothing", () => {
  const store = storeStub();
  rememberCredential(store, "h", actor, 0, credentialGeneration(store));
  const generation = credentialGeneration(store);
  forgetCredentials(store);
  expect(rememberedCredential(store, "h")).toBeNull();
  rememberCredential(store, "h2", actor, 0, generation);
  expect(rememberedCredential(store, "h2")).toBeNull();
});

it("keeps stores apart", () => {
  const a = storeStub();
  const b = storeStub();
  rememberCredential(a, "h", actor, 0, credentialGeneration(a));
  expect(rememberedCredential(b, "h")).toBeNull();
});
