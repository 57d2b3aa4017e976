"""Deliberately broken copies of OrderSaga, kept apart because the sandbox re-imports them."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import ORDER_SAGA, OrderSagaInput, SagaSnapshot
    from workflows.order_saga import OrderSaga


@workflow.defn(name=ORDER_SAGA)
class ReorderedSaga(OrderSaga):
    """The saga with payment taken before stock is reserved: not replay-compatible."""

    @workflow.run
    async def run(self, saga: OrderSagaInput) -> SagaSnapshot:
        await self._place_order()
        await self._process_payment()
        await self._reserve_stock()
        await self._arrange_shipping()
        await self._confirm_order()
        return self._snapshot


@workflow.defn(name=ORDER_SAGA)
class UnguardedFraudCheckSaga(OrderSaga):
    """The fraud check added without `workflow.patched`: sagas from before it cannot replay."""

    @workflow.run
    async def run(self, saga: OrderSagaInput) -> SagaSnapshot:
        await self._place_order()
        await self._reserve_stock()
        await self._check_fraud()
        await self._process_payment()
        await self._arrange_shipping()
        await self._confirm_order()
        return self._snapshot
