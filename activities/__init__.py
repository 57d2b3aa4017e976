"""Activities: the only code that appends events.

Two rooms. `activities.handlers` holds the command handlers of each bounded
context and the unit of work they run in: plain functions that load
aggregates, let them decide and record the decisions, with no Temporal in
them. Beside it, the Temporal activities: `activities.command` (the
`execute_command` activity of `CommandWorkflow`) and `activities.order_saga`
(one activity per step and compensation of `OrderSaga`), which call the outside
world where a step does, run a handler, and answer in Temporal's terms.
"""
