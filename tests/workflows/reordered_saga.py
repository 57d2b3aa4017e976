"""A deliberately broken copy of OrderSaga, kept apart because the sandbox re-imports it."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import ORDER_SAGA, OrderSagaInput, SagaSnapshot
    from workflows.order_saga import STEPS, OrderSaga


@workflow.defn(name=ORDER_SAGA)
class ReorderedSaga(OrderSaga):
    """The saga with payment taken before stock is reserved: not replay-compatible."""

    steps = (STEPS[1], STEPS[0], *STEPS[2:])

    @workflow.run
    async def run(self, saga: OrderSagaInput) -> SagaSnapshot:
        return await super().run(saga)
