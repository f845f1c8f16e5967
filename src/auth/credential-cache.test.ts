import { expect, it } from "vitest";
import type { Actor } from "../domain/roles.js";
import type { Store } from "../store/store.js";
import {
  CREDENTIAL_TTL_MS,
  checkCredentials,
  credentialGeneration,
  credentialsChecked,
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
const version = (v: string) => async () => v;

it("stores nothing before the credential version was read", async () => {
  const store = storeStub();
  expect(credentialsChecked(store)).toBe(false);
  rememberCredential(store, "h", actor, 0, credentialGeneration(store));
  expect(rememberedCredential(store, "h")).toBeNull();
  await checkCredentials(store, version("v1"), 1000);
  expect(credentialsChecked(store, 1000 + CREDENTIAL_TTL_MS - 1)).toBe(true);
  expect(credentialsChecked(store, 1000 + CREDENTIAL_TTL_MS)).toBe(false);
});

it("keeps credentials while the version stands still, and forgets them all when it moves", async () => {
  const store = storeStub();
  await checkCredentials(store, version("v1"), 1000);
  rememberCredential(store, "h", actor, 0, credentialGeneration(store));
  await checkCredentials(store, version("v1"), 1000 + 10 * CREDENTIAL_TTL_MS);
  expect(rememberedCredential(store, "h")?.actor).toBe(actor);
  const before = credentialGeneration(store);
  await checkCredentials(store, version("v2"), 1000 + 11 * CREDENTIAL_TTL_MS);
  expect(rememberedCredential(store, "h")).toBeNull();
  // A lookup that began before the version moved stores nothing.
  rememberCredential(store, "h", actor, 0, before);
  expect(rememberedCredential(store, "h")).toBeNull();
});

it("shares one read between concurrent checks", async () => {
  const store = storeStub();
  let reads = 0;
  const read = async () => {
    reads += 1;
    return "v1";
  };
  await Promise.all([checkCredentials(store, read), checkCredentials(store, read)]);
  expect(reads).toBe(1);
});

it("forgets every credential at once, and a lookup that began before the forget stores nothing", async () => {
  const store = storeStub();
  await checkCredentials(store, version("v1"));
  rememberCredential(store, "h", actor, 0, credentialGeneration(store));
  const generation = credentialGeneration(store);
  forgetCredentials(store);
  expect(rememberedCredential(store, "h")).toBeNull();
  rememberCredential(store, "h2", actor, 0, generation);
  expect(rememberedCredential(store, "h2")).toBeNull();
});

it("keeps stores apart", async () => {
  const a = storeStub();
  const b = storeStub();
  await checkCredentials(a, version("v1"));
  await checkCredentials(b, version("v1"));
  rememberCredential(a, "h", actor, 0, credentialGeneration(a));
  expect(rememberedCredential(b, "h")).toBeNull();
});
