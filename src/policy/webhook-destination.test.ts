import { describe, expect, it } from "vitest";
import { isAppError } from "../domain/errors.js";
import {
  EMPTY_ALLOW_LIST,
  parseWebhookAllowList,
  refusedAddress,
  refusedWebhookUrl,
  splitAllowListEnv,
} from "./webhook-destination.js";

describe("webhook destinations", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.1.2.3", "loopback"],
    ["10.0.0.1", "private"],
    ["172.16.5.4", "private"],
    ["192.168.1.1", "private"],
    ["169.254.169.254", "linkLocal"],
    ["100.64.0.1", "carrierGradeNat"],
    ["0.0.0.0", "unspecified"],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["fe80::1", "linkLocal"],
    ["fd00::1", "uniqueLocal"],
    ["::ffff:169.254.169.254", "linkLocal"],
    ["64:ff9b::a9fe:a9fe", "rfc6052"],
    ["2002:7f00:1::", "6to4"],
  ])("refuses %s (%s) by default", (address, range) => {
    expect(refusedAddress(address, EMPTY_ALLOW_LIST)).toContain(`, a ${range} address`);
  });

  it.each(["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])("allows the public %s", (address) => {
    expect(refusedAddress(address, EMPTY_ALLOW_LIST)).toBeNull();
  });

  it("allows what the allow-list names: ranges (IPv4-mapped too), addresses and host names", () => {
    const allow = parseWebhookAllowList(["10.0.0.0/8", "::1", "hooks.internal", "[fd00::5]"]);
    expect(refusedAddress("10.20.30.40", allow)).toBeNull();
    expect(refusedAddress("::ffff:10.1.1.1", allow)).toBeNull();
    expect(refusedAddress("::1", allow)).toBeNull();
    expect(refusedAddress("fd00::5", allow)).toBeNull();
    expect(refusedAddress("127.0.0.1", allow)).not.toBeNull();
    expect(refusedAddress("11.0.0.1", allow)).toBeNull(); // public anyway
    expect(refusedWebhookUrl("http://HOOKS.internal:8080/x", allow)).toBeNull();
    expect(refusedWebhookUrl("http://other.internal/x", allow)).toBeNull(); // a name is checked at delivery
  });

  it.each([
    ["file:///etc/passwd", "uses file"],
    ["gopher://example.org/", "uses gopher"],
    ["http://localhost/x", "points at localhost"],
    ["http://app.localhost./x", "points at app.localhost"],
    ["http://[::ffff:7f00:1]/x", "127.0.0.1, a loopback address"],
    ["http://0x7f.1/x", "127.0.0.1, a loopback address"],
    ["not a url", "is not a URL"],
  ])("refuses the URL %s", (url, message) => {
    expect(refusedWebhookUrl(url, EMPTY_ALLOW_LIST)).toContain(message);
  });

  it("refuses an allow-list entry that is neither a range, an address nor a host name", () => {
    for (const entry of ["10.0.0.0/33", "exa mple", "http://x"]) {
      try {
        parseWebhookAllowList([entry]);
        expect.unreachable();
      } catch (err) {
        expect(isAppError(err) && err.where).toBe("--webhook-allow");
      }
    }
    expect(splitAllowListEnv("127.0.0.1, hooks.internal ::1")).toEqual([
      "127.0.0.1",
      "hooks.internal",
      "::1",
    ]);
  });
});
