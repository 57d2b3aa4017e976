"""Worker Versioning: each build's workers belong to a deployment version, and a rollout
makes a new version current on a real Temporal server."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
    SetWorkerDeploymentCurrentVersionRequest,
)
from temporalio.client import Client
from temporalio.common import VersioningBehavior
from temporalio.service import RPCError
from temporalio.worker import Worker

from settings import Settings, package_version
from tests.workflows.test_order_saga_branches import Stubs, saga_input
from worker import deployment_config
from workflows.order_saga import OrderSaga


def test_a_build_is_its_package_version_in_the_shop_deployment(monkeypatch):
    for name in ("WORKER_DEPLOYMENT", "WORKER_BUILD_ID", "WORKER_VERSIONING"):
        monkeypatch.delenv(name, raising=False)
    config = deployment_config(Settings())
    assert (config.version.deployment_name, config.version.build_id) == ("shop", package_version())
    assert not config.use_worker_versioning  # recorded, not routed, until an operator opts in
    versioned = deployment_config(Settings(worker_versioning=True, worker_build_id="2.0.0"))
    assert versioned.use_worker_versioning
    assert versioned.version.build_id == "2.0.0"
    assert versioned.default_versioning_behavior is VersioningBehavior.AUTO_UPGRADE


async def test_a_saga_runs_on_the_build_an_operator_made_current(temporal_env):
    client = temporal_env.client
    deployment = f"shop-{uuid.uuid4().hex[:8]}"
    settings = Settings(worker_versioning=True, worker_deployment=deployment, worker_build_id="1.0")
    queue = f"test-versioned-{uuid.uuid4()}"
    stubs = Stubs()
    async with Worker(
        client,
        task_queue=queue,
        workflows=[OrderSaga],
        activities=stubs.activities(),
        deployment_config=deployment_config(settings),
    ):
        # The rollout: the new build's workers poll, then it is made current.
        conflict_token = await _until_registered(client, deployment)
        await client.workflow_service.set_worker_deployment_current_version(
            SetWorkerDeploymentCurrentVersionRequest(
                namespace=client.namespace,
                deployment_name=deployment,
                build_id="1.0",
                conflict_token=conflict_token,
                identity="test-rollout",
            )
        )
        handle = await client.start_workflow(
            OrderSaga.run, saga_input(queue), id=f"test-saga-{uuid.uuid4()}", task_queue=queue
        )
        snapshot = await asyncio.wait_for(handle.result(), 30)
        history = await handle.fetch_history()

    assert snapshot.state == "CONFIRMED"
    completed = [
        event.workflow_task_completed_event_attributes
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    ]
    assert completed
    for task in completed:
        assert task.deployment_version.deployment_name == deployment
        assert task.deployment_version.build_id == "1.0"
        assert task.versioning_behavior == VersioningBehavior.AUTO_UPGRADE.value


async def _until_registered(client: Client, deployment: str) -> bytes:
    """The deployment's conflict token, once the build's workers have polled."""
    for _ in range(100):
        try:
            described = await client.workflow_service.describe_worker_deployment(
                DescribeWorkerDeploymentRequest(
                    namespace=client.namespace, deployment_name=deployment
                )
            )
        except RPCError:
            described = None
        if described is not None and described.worker_deployment_info.version_summaries:
            return described.conflict_token
        await asyncio.sleep(0.1)
    raise AssertionError(f"the workers never registered in deployment {deployment}")
