"""The local development stack: embedded PostgreSQL and Temporal, and the `shop dev` launcher."""
