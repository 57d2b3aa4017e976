"""Pure business logic: commands, events and the aggregates that decide between them.

Nothing here performs I/O or imports a framework (pydantic, our data-model
library, aside), so every rule can be unit-tested in microseconds.
"""
