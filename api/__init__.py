"""The GraphQL gateway: queries from read models, mutations as commands via Temporal."""
