// The GraphQL over HTTP spec's conformance suite (graphql-http's `auditServer`),
// run against a live API:  node audit.mjs http://127.0.0.1:PORT/graphql
//
// Prints one JSON array: every audit's id, name, status (ok, warn or error) and,
// where it did not pass, why.
import { auditServer } from "graphql-http";

const results = await auditServer({ url: process.argv[2] });
console.log(
  JSON.stringify(
    results.map((result) => ({
      id: result.id,
      name: result.name,
      status: result.status,
      reason: result.status === "ok" ? undefined : result.reason,
    })),
  ),
);
