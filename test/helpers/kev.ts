import type { KevCatalog } from "../../src/advisories/kev.js";

/** A one-entry KEV catalog naming CVE-2023-5678 (OpenSSL), for tests of imports and their re-match. */
export const KEV: KevCatalog = {
  title: "test",
  catalogVersion: "2025.01.02",
  dateReleased: "2025-01-02T00:00:00.000Z",
  count: 1,
  vulnerabilities: [
    {
      cveID: "CVE-2023-5678",
      vendorProject: "OpenSSL",
      product: "OpenSSL",
      vulnerabilityName: "test entry",
      dateAdded: "2025-01-02",
      shortDescription: "test",
      requiredAction: "patch",
      dueDate: "2025-01-23",
      knownRansomwareCampaignUse: "Unknown",
      notes: "",
    },
  ],
};
