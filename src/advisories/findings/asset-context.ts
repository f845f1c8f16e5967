/**
 * What a finding's risk and due date read from its asset: criticality and labels for the risk formula,
 * and the SLA of each class (a policy override may apply to the asset through its selector).
 */
import type { Kysely, Selectable } from "kysely";
import type { AssetKind } from "../../domain/inventory.js";
import { matchesSelector, parseSelector, type Selector, selectorView } from "../../domain/selector.js";
import { type SlaDeadline, slaFor } from "../../policy/rules.js";
import type { ChangeClass, Policy } from "../../policy/schema.js";
import type { AssetsTable, Database } from "../../store/schema.js";
import { assetRiskContext, type RiskInput } from "../prioritise.js";

export interface AssetContext {
  id: string;
  name: string;
  risk: Pick<RiskInput, "criticality" | "internetExposed" | "sensitiveData">;
  /** The risk inputs as one string: assets with equal ones share every risk computation. */
  riskKind: string;
  sla: Readonly<Record<ChangeClass, SlaDeadline>>;
}

const IDS_PER_QUERY = 1000;

/** Builds contexts against one policy; each override selector is parsed once. */
export class AssetContexts {
  readonly #policy: Policy;
  readonly #selectors = new Map<string, Selector>();

  constructor(policy: Policy) {
    this.#policy = policy;
  }

  of(row: Selectable<AssetsTable>): AssetContext {
    const labels = JSON.parse(row.labels) as Record<string, string>;
    const view = selectorView({
      name: row.name,
      kind: row.kind as AssetKind,
      environment: row.environment,
      group: row.group_name,
      region: row.region,
      owner: row.owner,
      criticality: Number(row.criticality),
      labels,
    });
    const matches = (text: string): boolean => {
      let selector = this.#selectors.get(text);
      if (selector === undefined) {
        selector = parseSelector(text);
        this.#selectors.set(text, selector);
      }
      return matchesSelector(selector, view);
    };
    const risk = assetRiskContext({ criticality: Number(row.criticality), labels });
    return {
      id: row.id,
      name: row.name,
      risk,
      riskKind: `${risk.criticality}|${risk.internetExposed ? 1 : 0}|${risk.sensitiveData ? 1 : 0}`,
      sla: {
        emergency: slaFor(this.#policy, "emergency", matches),
        high: slaFor(this.#policy, "high", matches),
        routine: slaFor(this.#policy, "routine", matches),
      },
    };
  }

  /** Contexts of the given assets, or of every asset. */
  async load(db: Kysely<Database>, ids?: readonly string[]): Promise<Map<string, AssetContext>> {
    const out = new Map<string, AssetContext>();
    if (ids === undefined) {
      for (const row of await db.selectFrom("assets").selectAll().execute()) out.set(row.id, this.of(row));
      return out;
    }
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += IDS_PER_QUERY) {
      const rows = await db
        .selectFrom("assets")
        .selectAll()
        .where("id", "in", unique.slice(i, i + IDS_PER_QUERY))
        .execute();
      for (const row of rows) out.set(row.id, this.of(row));
    }
    return out;
  }
}
