import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ValidationError } from "./errors.js";
import {
  formatSelector,
  matchesSelector,
  parseSelector,
  RESERVED_LABEL_KEYS,
  type Requirement,
  type SelectableAsset,
  selectorView,
} from "./selector.js";

describe("parseSelector / formatSelector", () => {
  it.each([
    ["", ""],
    ["   ", ""],
    ["env=prod", "env=prod"],
    ["env==prod", "env=prod"],
    [" env = prod , region != eu ", "env=prod,region!=eu"],
    ["group in (web,api)", "group in (api,web)"],
    ["group notin ( web , api , web )", "group notin (api,web)"],
    ["key in(a)", "key in (a)"],
    ["canary", "canary"],
    ["!canary", "!canary"],
    ["! canary", "!canary"],
    ["env=prod,group in (web,api),!canary,region!=eu", "!canary,env=prod,group in (api,web),region!=eu"],
    ["app.kubernetes.io/name=web", "app.kubernetes.io/name=web"],
    ["owner=alice@example.com,version=1:2.3+b1", "owner=alice@example.com,version=1:2.3+b1"],
    ["env=prod,env=prod", "env=prod"],
    ["in=x,notin=y", "in=x,notin=y"],
    ["\tenv=prod\n", "env=prod"],
  ])("parses %j as %j", (text, canonical) => {
    expect(formatSelector(parseSelector(text))).toBe(canonical);
  });

  it("keeps the requirements it parsed", () => {
    expect(parseSelector("env=prod,group in (web,api),!canary,region!=eu,tier").requirements).toEqual([
      { key: "env", op: "=", value: "prod" },
      { key: "group", op: "in", values: ["web", "api"] },
      { key: "canary", op: "not-exists" },
      { key: "region", op: "!=", value: "eu" },
      { key: "tier", op: "exists" },
    ]);
  });

  it.each([
    ["env=", 4, 'expected a value after "="'],
    ["env==", 5, 'expected a value after "=="'],
    ["env!=", 5, 'expected a value after "!="'],
    ["env=prod,", 9, "expected a label key"],
    [",env", 0, "expected a label key"],
    ["a,,b", 2, "expected a label key"],
    ["group in (web,api", 17, 'expected ")" to close the value list'],
    ["group notin (a", 14, 'expected ")" to close the value list'],
    ["group in web", 9, 'expected "(" after "in"'],
    ["group in ()", 10, "expected a value in the list"],
    ["group in (a,,b)", 12, "expected a value in the list"],
    ["env prod", 4, 'expected "=", "==", "!=", "in", "notin", "," or the end of the selector'],
    ["keyin (a)", 6, 'expected "=", "==", "!=", "in", "notin", "," or the end of the selector'],
    ["env!prod", 3, 'expected "=", "==", "!=", "in", "notin", "," or the end of the selector'],
    ["!env=prod", 4, 'expected "," or the end of the selector ("!key" takes no value)'],
    ["!", 1, 'expected a label key after "!"'],
    ["env=prod=x", 8, 'expected "," or the end of the selector'],
    ["env=pr od", 7, 'expected "," or the end of the selector'],
    ["env=a|b", 5, 'expected "," or the end of the selector'],
    ["env=prod;region=eu", 8, 'expected "," or the end of the selector'],
  ])("rejects %j at offset %i", (text, offset, expected) => {
    let caught: unknown;
    try {
      parseSelector(text);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    const err = caught as ValidationError;
    expect(err.code).toBe("validation");
    expect(err.where).toBe(`offset ${offset}`);
    const [first, shown, caret] = err.message.split("\n");
    expect(first).toBe(expected);
    expect(shown).toBe(`  ${text}`);
    expect(caret).toBe(`  ${" ".repeat(offset)}^`);
  });

  it("lines the caret up when the selector holds tabs", () => {
    expect(() => parseSelector("env\t=")).toThrow(/\n {2}env =\n {7}\^$/);
  });

  const key = fc.stringMatching(/^[a-z][a-z0-9._/-]{0,8}$/);
  const value = fc.stringMatching(/^[A-Za-z0-9._:@+-]{1,8}$/);
  const requirement: fc.Arbitrary<Requirement> = fc.oneof(
    fc.record({ key, op: fc.constantFrom("exists" as const, "not-exists" as const) }),
    fc.record({ key, op: fc.constantFrom("=" as const, "!=" as const), value }),
    fc.record({
      key,
      op: fc.constantFrom("in" as const, "notin" as const),
      values: fc.array(value, { minLength: 1, maxLength: 4 }),
    }),
  );
  const views = fc.dictionary(fc.constantFrom("a", "b", "env", "x.y/z"), fc.constantFrom("1", "2", "prod"));

  it("formats to text that parses back to a selector with the same meaning", () => {
    fc.assert(
      fc.property(fc.array(requirement, { maxLength: 5 }), views, (requirements, view) => {
        const text = formatSelector({ requirements });
        const again = parseSelector(text);
        expect(formatSelector(again)).toBe(text);
        expect(matchesSelector(again, view)).toBe(matchesSelector({ requirements }, view));
      }),
    );
  });
});

describe("matchesSelector with selectorView", () => {
  const asset: SelectableAsset = {
    name: "web-01.example.com",
    kind: "host",
    environment: "prod",
    group: "web",
    region: "eu-west",
    owner: "team-web",
    criticality: 4,
    labels: { tier: "frontend", canary: "true", env: "staging", "app.kubernetes.io/name": "shop" },
  };
  const view = selectorView(asset);

  it.each([
    ["", true],
    ["env=prod", true],
    ["environment=prod", true],
    // Built-in fields win over a label of the same name.
    ["env=staging", false],
    ["name=web-01.example.com", true],
    ["kind=host,criticality=4", true],
    ["criticality in (4,5)", true],
    ["group in (web,api)", true],
    ["group notin (web,api)", false],
    ["group in (db)", false],
    ["region!=eu", true],
    ["region!=eu-west", false],
    ["tier", true],
    ["!tier", false],
    ["canary", true],
    ["!canary", false],
    ["missing", false],
    ["!missing", true],
    // As in Kubernetes, "!=" and "notin" hold for a missing key; "=" and "in" do not.
    ["missing!=x", true],
    ["missing notin (x)", true],
    ["missing=x", false],
    ["missing in (x)", false],
    ["app.kubernetes.io/name=shop", true],
    ["env=prod,group in (web,api),canary,region!=eu", true],
    ["env=prod,group in (web,api),!canary,region!=eu", false],
  ])("%j → %s", (text, expected) => {
    expect(matchesSelector(parseSelector(text), view)).toBe(expected);
  });

  it("exposes every built-in field and reserves their names", () => {
    expect(view).toMatchObject({
      name: "web-01.example.com",
      kind: "host",
      environment: "prod",
      env: "prod",
      group: "web",
      region: "eu-west",
      owner: "team-web",
      criticality: "4",
      tier: "frontend",
    });
    for (const k of ["name", "kind", "environment", "env", "group", "region", "owner", "criticality"]) {
      expect(RESERVED_LABEL_KEYS.has(k)).toBe(true);
    }
    expect(RESERVED_LABEL_KEYS.has("tier")).toBe(false);
  });

  it("does not treat inherited object properties as labels", () => {
    expect(matchesSelector(parseSelector("constructor"), {})).toBe(false);
    expect(matchesSelector(parseSelector("!toString"), {})).toBe(true);
  });
});
