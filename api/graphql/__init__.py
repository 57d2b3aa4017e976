"""The GraphQL schema: types and resolvers per resource, the per-request context, its loaders."""
