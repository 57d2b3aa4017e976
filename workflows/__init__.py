"""Temporal workflows. They orchestrate only: no I/O, clocks or randomness.

`workflows.contracts` is the light module the API shares with the worker:
names, task queues and payload models, with no I/O library behind it.
"""
