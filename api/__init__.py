"""The GraphQL gateway: queries from read models, mutations as commands via Temporal.

Five rooms, each importing only the ones below it (a layers contract in
`pyproject.toml` checks it):

- `api.http`: the edge. The FastAPI app, the GraphQL router, the request body
  cap, JSON encoding, GraphiQL's page and the WebSocket protocol's errors.
- `api.graphql`: the schema. Types and resolvers per resource, the per-request
  context and its DataLoaders, pagination, and the schema's change checker.
- `api.guards`: what stands before execution. Limits and the cost rule, the
  parse and validation caches, introspection in production, the read cache.
- `api.auth` and `api.commands`: who is calling (tokens, identities, socket
  sign-in and caps), and how commands reach the write side (through Temporal).
- `api.errors`: the one error type every room raises, with its GraphQL code.
"""
