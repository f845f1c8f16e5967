import canonicalize from "canonicalize";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson, plainCanonicalJson } from "./canonical-json.js";
import { hashedText } from "./event.js";

/** What the package gives for a value: its text, or that it has none (it threw or gave undefined). */
function packageOutcome(value: unknown): { text: string } | { none: true } {
  try {
    const text = canonicalize(value);
    return text === undefined ? { none: true } : { text };
  } catch {
    return { none: true };
  }
}

function ownOutcome(value: unknown): { text: string } | { none: true } {
  try {
    return { text: canonicalJson(value) };
  } catch {
    return { none: true };
  }
}

// Numbers where writing them could part from ECMAScript's Number-to-String (RFC 8785 §3.2.2.3).
const awkwardNumbers = fc.constantFrom(
  1e21,
  1e20,
  -0,
  5e-324,
  -5e-324,
  Number.MAX_VALUE,
  Number.MIN_SAFE_INTEGER,
  2 ** 53,
  1e-7,
  1e-6,
  0.1 + 0.2,
  123e-20,
  333333333.3333333,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
);
const numbers = fc.oneof(fc.double(), fc.integer(), awkwardNumbers);
// Any UTF-16 code unit: lone and paired surrogates, controls, U+2028, BOMs.
const codeUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) });
const strings = fc.oneof(fc.string(), fc.string({ unit: "grapheme" }), codeUnits);

/** Plain values: what audit events carry. Well-formed strings: the package rejects a lone surrogate. */
const plainStrings = fc.oneof(fc.string(), fc.string({ unit: "grapheme" }), fc.string({ unit: "binary" }));
const plain = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    plainStrings.filter((s) => s.isWellFormed()),
    numbers.filter(Number.isFinite),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value")),
    fc.dictionary(
      plainStrings.filter((s) => s.isWellFormed()),
      tie("value"),
      {
        noNullPrototype: false,
      },
    ),
  ),
})).value;

/** Values of every shape: undefined and symbol members, holes, Dates, Maps, boxed values, bigints, cycles. */
const anything = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    strings,
    numbers,
    fc.boolean(),
    fc.constantFrom(
      null,
      undefined,
      Symbol("s"),
      () => 1,
      10n,
      new Date(0),
      new Map([[1, 2]]),
      new Number(3),
    ),
    fc.array(tie("value")),
    fc.sparseArray(tie("value")),
    fc.dictionary(strings, tie("value"), { noNullPrototype: false }),
    fc.anything({
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withTypedArray: true,
      withSparseArray: true,
      withNullPrototype: true,
      withBoxedValues: true,
      withObjectString: true,
    }),
  ),
})).value;

describe("canonicalJson", () => {
  it("writes the bytes the canonicalize package writes, for values of every shape", () => {
    fc.assert(
      fc.property(anything, (value) => {
        expect(ownOutcome(value)).toEqual(packageOutcome(value));
      }),
      { numRuns: 1500 },
    );
  });

  it("takes the direct path for plain values, and writes what the package writes", () => {
    fc.assert(
      fc.property(plain, (value) => {
        const text = plainCanonicalJson(value);
        expect(text).toBeDefined();
        expect(text).toBe(canonicalize(value));
      }),
      { numRuns: 1500 },
    );
  });

  it.each([
    [1e21, "1e+21"],
    [-0, "0"],
    [5e-324, "5e-324"],
    [1e-7, "1e-7"],
    [2 ** 53, "9007199254740992"],
    [
      { "\u20ac": 1, "\r": 2, "\ud83d\ude00": 3, "\u0080": 4, "1": 5, a: undefined },
      '{"\\r":2,"1":5,"\u0080":4,"\u20ac":1,"\ud83d\ude00":3}',
    ],
    [[1, "x", null, true, { b: [], a: {} }], '[1,"x",null,true,{"a":{},"b":[]}]'],
  ])("writes %j as %s (RFC 8785's number and key order)", (value, text) => {
    expect(canonicalJson(value)).toBe(text);
    expect(plainCanonicalJson(value)).toBe(text);
  });

  it("rejects what has no canonical JSON, as the package does", () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    for (const value of [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      "\ud800",
      { "\udc00": 1 },
      cycle,
      undefined,
      1n,
    ]) {
      expect(() => canonicalJson(value)).toThrow();
    }
  });
});

describe("hashedText", () => {
  const events = fc.record({
    seq: fc.integer({ min: 1 }),
    id: fc.uuid(),
    at: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    actor: strings,
    action: strings,
    targetType: strings,
    targetId: strings,
    reason: fc.option(strings),
    data: fc.oneof(fc.dictionary(strings, plain), fc.dictionary(strings, anything)) as fc.Arbitrary<
      Record<string, unknown>
    >,
    prevHash: fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 64, maxLength: 64 }),
  });

  it("is the canonical JSON of the event's fields, whether or not the caller passes the payload's text", () => {
    fc.assert(
      fc.property(events, (event) => {
        const whole = packageOutcome({ ...event });
        let own: { text: string } | { none: true };
        let withData: { text: string } | { none: true };
        try {
          own = { text: hashedText(event) };
        } catch {
          own = { none: true };
        }
        try {
          withData = { text: hashedText(event, canonicalJson(event.data)) };
        } catch {
          withData = { none: true };
        }
        expect(own).toEqual(whole);
        expect(withData).toEqual(whole);
      }),
      { numRuns: 600 },
    );
  });
});
