"""Activities: the only code that appends events.

Each command handler loads aggregates, lets them decide, and appends the
resulting events together with their inline projections in one transaction.
"""
