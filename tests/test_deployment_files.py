"""Compose, Prometheus, Grafana and Kubernetes files agree with the code.

Containers cannot run here, so these checks are what keeps the files honest:
every variable is a setting, every port is the one the process listens on,
every scrape target exists, every dashboard query names a metric we export.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from cli import parser
from observability.metrics import SAGA_METRICS, TEMPORAL_SDK_METRICS, ApiMetrics, ProjectorMetrics
from psp.client import HttpPaymentProvider
from settings import Settings

ROOT = Path(__file__).resolve().parent.parent
OUR_SERVICES = {"api", "worker", "projector", "psp", "migrate"}
DEFAULTS = Settings()
SETTINGS = {name.upper() for name in Settings.model_fields}

# Where each process serves /metrics, /healthz and /readyz.
OPERATIONS_PORT = {
    "api": DEFAULTS.api_port,
    "worker": DEFAULTS.worker_metrics_port,
    "projector": DEFAULTS.projector_metrics_port,
    "psp": DEFAULTS.psp_port,
}
METRICS_PORTS = {
    "api": {DEFAULTS.api_port},
    "worker": {DEFAULTS.worker_metrics_port, DEFAULTS.worker_sdk_metrics_port},
    "projector": {DEFAULTS.projector_metrics_port},
}


def load(path: str) -> Any:
    return yaml.safe_load((ROOT / path).read_text())


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def compose_services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = load("docker-compose.yml")["services"]
    return services


def k8s_documents() -> list[dict[str, Any]]:
    return [doc for path in sorted((ROOT / "k8s").glob("*.yaml")) for doc in load_all(path)]


def exported_metric_names() -> set[str]:
    registry = CollectorRegistry()
    ApiMetrics.create(registry)
    ProjectorMetrics.create(registry)
    HttpPaymentProvider(
        None,  # no calls are made: only its metric is registered
        timeout_seconds=1,
        failure_threshold=1,
        recovery_seconds=1,
        registry=registry,
    )
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_count", "_sum"),
        "gauge": ("",),
        "stateset": ("",),
    }
    names = {
        family.name + suffix for family in registry.collect() for suffix in suffixes[family.type]
    }
    for base in (*SAGA_METRICS, *TEMPORAL_SDK_METRICS):
        names |= {base, f"{base}_bucket", f"{base}_count", f"{base}_sum", f"{base}_total"}
    return names


def test_compose_variables_are_settings_and_commands_exist():
    for name, service in compose_services().items():
        if name not in OUR_SERVICES:
            continue
        for variable in service.get("environment", {}):
            assert variable in SETTINGS or variable.startswith("OTEL_"), (name, variable)
        parser().parse_args(service["command"])  # a real `shop` command


def test_compose_publishes_the_ports_the_processes_listen_on():
    services = compose_services()
    for name, ports in {**METRICS_PORTS, "psp": {DEFAULTS.psp_port}}.items():
        published = {int(p.split(":")[1]) for p in services[name]["ports"]}
        assert ports <= published, (name, ports, published)
        environment = services[name].get("environment", {})
        for variable, value in environment.items():
            if variable.endswith("_PORT"):
                assert int(value) == getattr(DEFAULTS, variable.lower()), (name, variable)


def test_monitoring_overlay_only_touches_known_services():
    overlay = load("docker-compose.monitoring.yml")["services"]
    for name, service in overlay.items():
        if name in OUR_SERVICES:
            assert set(service["environment"]) <= {"OTEL_EXPORTER_OTLP_ENDPOINT"}
            assert name in compose_services()


def test_prometheus_scrapes_every_process_where_it_serves_metrics():
    targets = {
        target
        for job in load("monitoring/prometheus.yml")["scrape_configs"]
        for config in job["static_configs"]
        for target in config["targets"]
    }
    expected = {f"{name}:{port}" for name, ports in METRICS_PORTS.items() for port in ports}
    assert targets == expected
    for target in targets:
        assert target.split(":")[0] in compose_services()


def test_every_dashboard_query_names_an_exported_metric():
    dashboard = json.loads((ROOT / "monitoring/grafana/dashboards/shop.json").read_text())
    exported = exported_metric_names()
    queried: set[str] = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "prometheus"
            expression = re.sub(r'\{[^}]*\}|"[^"]*"|\[[^\]]*\]|\bby \([^)]*\)', "", target["expr"])
            words = set(re.findall(r"[a-z_][a-z0-9_]*", expression))
            functions = {"sum", "rate", "increase", "max", "histogram_quantile", "le"}
            queried |= words - functions
    assert queried and queried <= exported, queried - exported
    datasource = load("monitoring/grafana/provisioning/datasources/prometheus.yml")
    assert datasource["datasources"][0]["uid"] == "prometheus"


@pytest.mark.parametrize("name", ["api", "worker", "projector", "psp"])
def test_kubernetes_deployments_probe_and_expose_the_right_ports(name):
    documents = k8s_documents()
    (deployment,) = [
        d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"] == name
    ]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    parser().parse_args(container["args"])
    port = OPERATIONS_PORT[name]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port}
    exposed = {p["containerPort"] for p in container["ports"]}
    assert METRICS_PORTS.get(name, {port}) <= exposed
    (service,) = [d for d in documents if d["kind"] == "Service" and d["metadata"]["name"] == name]
    assert {p["targetPort"] for p in service["spec"]["ports"]} == exposed


def test_kubernetes_configuration_is_settings_and_api_and_worker_autoscale():
    documents = k8s_documents()
    (config,) = [d for d in documents if d["kind"] == "ConfigMap"]
    for variable, value in config["data"].items():
        assert variable in SETTINGS or variable.startswith("OTEL_"), variable
        if variable.endswith("_PORT"):
            assert int(value) == getattr(DEFAULTS, variable.lower())
    scaled = {
        d["spec"]["scaleTargetRef"]["name"]
        for d in documents
        if d["kind"] == "HorizontalPodAutoscaler"
    }
    assert scaled == {"api", "worker"}
    listed = set(load("k8s/kustomization.yaml")["resources"])
    assert listed == {p.name for p in (ROOT / "k8s").glob("*.yaml")} - {"kustomization.yaml"}
