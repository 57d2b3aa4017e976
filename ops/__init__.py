"""Operator and developer commands behind `shop`: events, projections, replay, orders."""
