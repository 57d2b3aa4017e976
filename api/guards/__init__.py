"""What stands before a GraphQL operation runs: limits, cost, document caches, exposure, the
read cache. Nothing here knows the schema's types or the HTTP edge."""
