"""Compose, Prometheus, Grafana, Kubernetes and Dockerfile agree with the code and stay hardened.

Containers cannot run here, so these checks are what keeps the files honest:
every variable is a setting, every port is the one the process listens on,
every scrape target exists, every dashboard query names a metric we export.
And the deployment defaults hold: production mode, no payment simulator in the
Kubernetes base, default-deny network policies, locked-down pods, pinned
images, a PostgreSQL connection budget that adds up, compose ports on
127.0.0.1 and its passwords from `.env`.

Longer than our usual module: one file per concern would scatter the small
readers (compose, kustomize, network flows) that every check here shares.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest
import yaml
from prometheus_client import CollectorRegistry
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

import bootstrap
from cli import parser
from observability.metrics import SAGA_METRICS, TEMPORAL_SDK_METRICS, ApiMetrics, ProjectorMetrics
from psp.client import HttpPaymentProvider
from settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
BASE = K8S / "base"
DEV = K8S / "overlays" / "dev"
COMPOSE_FILES = ("docker-compose.yml", "docker-compose.monitoring.yml")
OUR_SERVICES = {"api", "worker", "projector", "psp", "migrate"}
DEFAULTS = Settings()
SETTINGS = {name.upper() for name in Settings.model_fields}
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]

# Where each process serves /metrics, /healthz and /readyz.
OPERATIONS_PORT = {
    "api": DEFAULTS.api_metrics_port,
    "worker": DEFAULTS.worker_metrics_port,
    "projector": DEFAULTS.projector_metrics_port,
    "psp": DEFAULTS.psp_port,
}
METRICS_PORTS = {
    "api": {DEFAULTS.api_metrics_port},
    "worker": {DEFAULTS.worker_metrics_port, DEFAULTS.worker_sdk_metrics_port},
    "projector": {DEFAULTS.projector_metrics_port},
}
POSTGRES_PORT = 5432
HTTPS_PORT = 443
DATABASE_CLIENTS = {"api", "worker", "projector", "migrate"}
TEMPORAL_CLIENTS = {"api", "worker"}
TRACED = {"api", "worker", "projector"}  # the migration makes no spans

# How the network policies' peers read (see `describe_peer`).
ANYWHERE = "anywhere"
OUTSIDE_CLUSTER = "outside the cluster"
MONITORING = "namespace kubernetes.io/metadata.name=monitoring"
KUBE_DNS = "namespace kubernetes.io/metadata.name=kube-system, pods k8s-app=kube-dns"
PRIVATE_RANGES = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}

WORKLOADS = {"Deployment", "Job"}
KNOWN_KINDS = WORKLOADS | {"ConfigMap", "Service", "HorizontalPodAutoscaler", "NetworkPolicy"}


# --- reading files ----------------------------------------------------------


def load(path: str) -> Any:
    return yaml.safe_load((ROOT / path).read_text())


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def compose_services(path: str = "docker-compose.yml") -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = load(path)["services"]
    return services


def dockerfile(instruction: str) -> list[str]:
    """The arguments of every `instruction` line of the Dockerfile, continuations joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    lines = (line.split(None, 1) for line in text.splitlines())
    return [words[1] for words in lines if len(words) == 2 and words[0] == instruction]


def image_environment() -> dict[str, str]:
    """What the image's ENV lines put in every container's environment."""
    pairs = [word.split("=", 1) for line in dockerfile("ENV") for word in shlex.split(line)]
    return {name: value for name, value in pairs}


def image_user() -> int:
    (user,) = dockerfile("USER")
    return int(user.split(":")[0])  # numeric, or Kubernetes cannot check runAsNonRoot


def settings_from(environment: Mapping[str, str]) -> Settings:
    """The settings a process builds when `environment` is its whole environment."""
    with mock.patch.dict(os.environ, environment, clear=True):
        return Settings()


# --- kustomize --------------------------------------------------------------


def kustomize(directory: Path) -> list[dict[str, Any]]:
    """What `kubectl kustomize directory` prints, for the features our kustomizations use.

    Resources (files and folders), `patches` that merge maps, and `images` tags: enough
    for the checks to run where kubectl is not installed.
    `test_our_kustomize_renders_what_kubectl_renders` holds it to kubectl where it is.
    """
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    documents: list[dict[str, Any]] = []
    for resource in kustomization.get("resources", []):
        path = directory / resource
        documents += kustomize(path) if path.is_dir() else load_all(path)
    for patch in kustomization.get("patches", []):
        for change in load_all(directory / patch["path"]):
            (target,) = [d for d in documents if identity(d) == identity(change)]
            merge(target, change)
    tags = {image["name"]: image["newTag"] for image in kustomization.get("images", [])}
    for _, _, pod in workloads(documents):
        for container in pod["containers"]:
            name = re.split(r"[:@]", container["image"])[0]
            if name in tags:
                container["image"] = f"{name}:{tags[name]}"
    return documents


def identity(document: dict[str, Any]) -> tuple[str, str]:
    return document["kind"], document["metadata"]["name"]


def merge(target: dict[str, Any], change: dict[str, Any]) -> None:
    """A strategic-merge patch, for maps only (lists merge by key in kustomize; we have none)."""
    for key, value in change.items():
        assert not isinstance(value, list), f"our kustomize merges maps only: {key}"
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = value


def base() -> list[dict[str, Any]]:
    return kustomize(BASE)


def dev() -> list[dict[str, Any]]:
    return kustomize(DEV)


RENDERINGS = {"base": base, "dev": dev}


def of_kind(documents: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in documents if d["kind"] == kind]


def named(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (document,) = [d for d in of_kind(documents, kind) if d["metadata"]["name"] == name]
    return document


def workloads(documents: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], str, Any]]:
    """Every Deployment and Job, with its pods' `app` label and its pod spec."""
    for document in documents:
        if document["kind"] in WORKLOADS:
            template = document["spec"]["template"]
            yield document, template["metadata"]["labels"]["app"], template["spec"]


def configured_environment(
    documents: list[dict[str, Any]], container: dict[str, Any]
) -> dict[str, str]:
    """What the manifests give a container: its ConfigMaps, then its own `env`.

    Secrets are not in the files: a check that needs DATABASE_URL adds it.
    """
    environment: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            config = named(documents, "ConfigMap", source["configMapRef"]["name"])
            environment.update(config["data"])
    environment.update({v["name"]: v["value"] for v in container.get("env", []) if "value" in v})
    return environment


def pod_environment(documents: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """A container's whole environment: the image's ENV, overridden by the manifests."""
    return {**image_environment(), **configured_environment(documents, container)}


# --- network policies -------------------------------------------------------

Flow = tuple[str, str, str, Any, str]
"""(app, "ingress" or "egress", protocol, port, peer): one opening a policy makes."""


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert "matchExpressions" not in selector, "these checks read matchLabels only"
    wanted: dict[str, str] = selector.get("matchLabels", {})
    return wanted.items() <= labels.items()


def describe_peer(peer: dict[str, Any]) -> str:
    """A peer of a rule, as the expected flows name it."""
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        everywhere_else = block["cidr"] == "0.0.0.0/0" and set(block.get("except", []))
        return OUTSIDE_CLUSTER if everywhere_else == PRIVATE_RANGES else f"ipBlock {block}"

    def labels(selector: dict[str, Any]) -> str:
        pairs = selector.get("matchLabels", {}).items()
        return ",".join(f"{k}={v}" for k, v in sorted(pairs)) or "*"

    parts = []
    if "namespaceSelector" in peer:
        parts.append("namespace " + labels(peer["namespaceSelector"]))
    if "podSelector" in peer:
        parts.append("pods " + labels(peer["podSelector"]))
    return ", ".join(parts)


def pods_of(app: str) -> str:
    return f"pods app={app}"


def opened_flows(documents: list[dict[str, Any]]) -> set[Flow]:
    """Every (app, direction, protocol, port, peer) that some network policy allows."""
    apps = pod_labels_by_app(documents)
    flows: set[Flow] = set()
    for policy in of_kind(documents, "NetworkPolicy"):
        spec = policy["spec"]
        assert "policyTypes" in spec, policy["metadata"]["name"]  # implicit types mislead
        selected = [app for app, labels in apps.items() if selects(spec["podSelector"], labels)]
        for direction, peers_key in (("ingress", "from"), ("egress", "to")):
            if direction.capitalize() not in spec["policyTypes"]:
                continue
            for rule in spec.get(direction, []):
                ports = [(p.get("protocol", "TCP"), p["port"]) for p in rule.get("ports", [])]
                peers = [describe_peer(peer) for peer in rule.get(peers_key, [])]
                flows |= {
                    (app, direction, protocol, port, peer)
                    for app in selected
                    for protocol, port in ports or [("any protocol", "any port")]
                    for peer in peers or [ANYWHERE]
                }
    return flows


def pod_labels_by_app(documents: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {
        app: document["spec"]["template"]["metadata"]["labels"]
        for document, app, _ in workloads(documents)
    }


def expected_flows(documents: list[dict[str, Any]]) -> set[Flow]:
    """What the system needs, and nothing more, from the configuration the pods read."""
    apps = set(pod_labels_by_app(documents))
    config = named(documents, "ConfigMap", "shop")["data"]
    flows: set[Flow] = set()

    def allow(app: str, direction: str, port: int, peer: str, protocol: str = "TCP") -> None:
        flows.add((app, direction, protocol, port, peer))

    for app in apps:
        allow(app, "egress", 53, KUBE_DNS, protocol="UDP")
        allow(app, "egress", 53, KUBE_DNS)
    allow("api", "ingress", DEFAULTS.api_port, ANYWHERE)
    allow("api", "egress", HTTPS_PORT, OUTSIDE_CLUSTER)  # the token issuer's JWKS
    for app, ports in METRICS_PORTS.items():
        for port in ports:
            allow(app, "ingress", port, MONITORING)
    for app in DATABASE_CLIENTS:
        allow(app, "egress", POSTGRES_PORT, ANYWHERE)
    for app in TEMPORAL_CLIENTS:
        allow(app, "egress", int(config["TEMPORAL_ADDRESS"].rsplit(":", 1)[1]), ANYWHERE)
    if otlp := config.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        for app in TRACED:
            allow(app, "egress", port_of(otlp), ANYWHERE)
    allow("worker", "egress", HTTPS_PORT, OUTSIDE_CLUSTER)  # the real payment provider
    if "psp" in apps:  # the dev overlay: the worker pays through the simulator
        psp = port_of(config["PSP_URL"])
        allow("worker", "egress", psp, pods_of("psp"))
        allow("psp", "ingress", psp, pods_of("worker"))
    return flows


def port_of(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or {"http": 80, "https": 443}[parts.scheme]


# --- the PostgreSQL connection budget ---------------------------------------

BUDGET_ROW = re.compile(
    r"^#\s+(?P<app>[a-z]+): \((?P<field>maxReplicas|replicas|parallelism) (?P<count>\d+)"
    r"(?: \+ maxSurge (?P<surge>\d+))?\) x (?P<each>\d+) = (?P<product>\d+)$",
    re.MULTILINE,
)
BUDGET_TOTAL = re.compile(
    r"^#\s+total: (?P<total>\d+), within (?P<available>\d+) = max_connections (?P<max>\d+)"
    r" - superuser_reserved_connections (?P<reserved>\d+)$",
    re.MULTILINE,
)


def engine_connections(engine: AsyncEngine) -> int:
    """The most connections an engine opens: its pool and its overflow."""
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    return pool.size() + pool._max_overflow


def connections_per_pod() -> dict[str, int]:
    """Each pod's most connections, from the engines the code builds (one per process)."""
    settings = settings_from({"DATABASE_URL": "postgresql://shop@db/shop"})
    app = engine_connections(bootstrap.database_engine(settings))
    owner = engine_connections(bootstrap.owner_engine(settings))
    return {"api": app, "worker": app, "projector": app, "migrate": owner}


def pods_at_most(documents: list[dict[str, Any]], workload: dict[str, Any]) -> tuple[str, int]:
    """The field that bounds a workload's pods (HPA maxReplicas, replicas, parallelism)."""
    if workload["kind"] == "Job":
        return "parallelism", workload["spec"].get("parallelism", 1)
    name = workload["metadata"]["name"]
    for hpa in of_kind(documents, "HorizontalPodAutoscaler"):
        if hpa["spec"]["scaleTargetRef"]["name"] == name:
            return "maxReplicas", hpa["spec"]["maxReplicas"]
    return "replicas", workload["spec"]["replicas"]


def max_surge(workload: dict[str, Any]) -> int:
    surge = workload["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
    assert isinstance(surge, int), "write maxSurge as a number: the budget counts it"
    return surge


# --- compose ----------------------------------------------------------------

REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<op>[?-])(?P<arg>[^}]*))?\}")
REQUIRED_REFERENCE = re.compile(r"\$\{[A-Z_][A-Z0-9_]*:\?[^}]+\}")
PASSWORD_IN_URL = re.compile(r"://[^/:@\s]+:(?P<password>[^@]*)@")
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|PWD|SECRET|TOKEN")


def compose_text() -> str:
    return "".join((ROOT / path).read_text() for path in COMPOSE_FILES)


def compose_variables() -> dict[str, bool]:
    """Every variable the compose files read from `.env`, and whether it is required."""
    variables: dict[str, bool] = {}
    for match in REFERENCE.finditer(compose_text()):
        variables[match["name"]] = variables.get(match["name"], False) or match["op"] == "?"
    return variables


def env_example() -> dict[str, str]:
    """The variables `.env.example` lists (commented out or not), with their values."""
    text = (ROOT / ".env.example").read_text()
    return dict(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=(.*)$", text, re.MULTILINE))


def sample_env() -> dict[str, str]:
    """A filled-in `.env`: every variable `.env.example` lists, with a made-up value."""
    return {
        name: f"https://issuer.test/{name.lower()}" if "URL" in name or "ISSUER" in name else "x1"
        for name in env_example()
    }


def interpolate(value: str, environment: Mapping[str, str]) -> str:
    """A compose value with its `${…}` references filled in as compose fills them."""

    def replace(match: re.Match[str]) -> str:
        if environment.get(match["name"]):
            return environment[match["name"]]
        assert match["op"] == "-", f"{match['name']} is not set: {match['arg']}"
        return match["arg"]

    return REFERENCE.sub(replace, value)


def published(port: str) -> tuple[str, int]:
    """The host address ("" for every address) and the container port of a `ports` entry."""
    parts = port.split(":")
    return (parts[0] if len(parts) == 3 else ""), int(parts[-1])


def strings(node: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """Every string value of a YAML tree, with the key it sits under."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from strings(v, str(k))
    elif isinstance(node, list):
        for item in node:
            yield from strings(item, key)
    elif isinstance(node, str):
        yield key, node


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
    for base_name in (*SAGA_METRICS, *TEMPORAL_SDK_METRICS):
        names |= {base_name, *(base_name + s for s in ("_bucket", "_count", "_sum", "_total"))}
    return names


# --- compose, Prometheus, Grafana -------------------------------------------


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
        container_ports = {published(p)[1] for p in services[name]["ports"]}
        assert ports <= container_ports, (name, ports, container_ports)
        environment = services[name].get("environment", {})
        for variable, value in environment.items():
            if variable.endswith("_PORT"):
                assert int(value) == getattr(DEFAULTS, variable.lower()), (name, variable)


def test_compose_binds_every_port_but_the_public_api_to_localhost():
    """Only GraphQL faces the network; PostgreSQL, Temporal, metrics, the simulator and the
    monitoring tools are for this host."""
    for path in COMPOSE_FILES:
        for name, service in compose_services(path).items():
            for port in service.get("ports", []):
                assert isinstance(port, str), (path, name, port)  # the short syntax, read here
                host, container = published(port)
                public_api = name == "api" and container == DEFAULTS.api_port
                assert public_api or host == "127.0.0.1", (path, name, port)


def test_compose_has_no_literal_passwords():
    """Every password, alone or inside a URL, is a `${VAR:?…}` from `.env`: no default
    password can ship, and compose names the missing one."""
    checked = set()
    for path in COMPOSE_FILES:
        for key, value in strings(load(path)):
            if SECRET_NAME.search(key.upper()):
                assert REQUIRED_REFERENCE.fullmatch(value), (path, key, value)
                checked.add(key)
            for match in PASSWORD_IN_URL.finditer(value):
                assert REQUIRED_REFERENCE.fullmatch(match["password"]), (path, key, value)
                checked.add(key)
    assert {"POSTGRES_PASSWORD", "DATABASE_URL", "GF_SECURITY_ADMIN_PASSWORD"} <= checked


def test_env_example_explains_every_compose_variable_and_env_stays_out_of_git():
    """`.env.example` is the list of what to fill in: every variable compose reads, none
    other; required ones are empty, so a copy not filled in fails."""
    for match in REFERENCE.finditer(compose_text()):
        if match["op"] == "?":  # compose prints this message when the value is missing
            assert match["name"] in match["arg"] and ".env.example" in match["arg"], match[0]
    variables = compose_variables()
    example = env_example()
    assert set(example) == set(variables)
    for name, required in variables.items():
        if required:
            assert example[name] == "", name
    gitignore = (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in gitignore


def test_compose_processes_start_in_production_and_name_their_payment_provider():
    """The image defaults to production, which needs PSP_URL: every process of ours in
    compose must name one (the simulator, said explicitly), or it does not start."""
    services = compose_services()
    for name, service in services.items():
        if name not in OUR_SERVICES:
            continue
        environment = image_environment()
        for variable, value in service.get("environment", {}).items():
            environment[variable] = interpolate(str(value), sample_env())
        settings = settings_from(environment)
        assert settings.production, name
        assert "psp_url" in settings.model_fields_set, name
        simulator = urlsplit(settings.psp_url)
        assert simulator.hostname == "psp" and simulator.port == DEFAULTS.psp_port, name


COMPOSE = shutil.which("docker-compose")
REQUIRED = sorted(name for name, required in compose_variables().items() if required)


@pytest.mark.skipif(COMPOSE is None, reason="docker-compose is not installed")
@pytest.mark.parametrize("missing", [None, *REQUIRED])
def test_docker_compose_refuses_to_start_without_each_env_value(tmp_path, missing):
    """`docker-compose config` passes with a filled-in `.env` and fails, naming the value,
    when any required one is missing."""
    values = {k: v for k, v in sample_env().items() if k != missing}
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    result = run_compose(env_file, *COMPOSE_FILES)
    if missing is None:
        assert result.returncode == 0, result.stderr
    else:
        message = result.stderr.strip().rsplit(": ", 1)[-1]  # after compose's own words
        assert result.returncode != 0 and missing in message, result.stderr


@pytest.mark.skipif(COMPOSE is None, reason="docker-compose is not installed")
def test_docker_compose_refuses_a_copy_of_env_example_not_filled_in():
    result = run_compose(ROOT / ".env.example", "docker-compose.yml")
    assert result.returncode != 0 and ".env.example" in result.stderr, result.stderr


def run_compose(env_file: Path, *files: str) -> subprocess.CompletedProcess[str]:
    """`docker-compose config -q` with only `env_file` for variables (not ours, not `.env`)."""
    assert COMPOSE is not None
    arguments = [COMPOSE, "--env-file", str(env_file)]
    for path in files:
        arguments += ["-f", str(ROOT / path)]
    clean = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/")}
    return subprocess.run(
        [*arguments, "config", "-q"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


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


# --- the image --------------------------------------------------------------


def test_image_defaults_to_production_and_exposes_every_port():
    """A container started with no configuration is production: a forgotten SHOP_ENV
    never serves GraphiQL, and a forgotten PSP_URL stops it."""
    assert image_environment()["SHOP_ENV"] == "production"
    exposed = {int(port) for line in dockerfile("EXPOSE") for port in line.split()}
    assert {DEFAULTS.api_port, *OPERATIONS_PORT.values(), *METRICS_PORTS["worker"]} <= exposed


# --- Kubernetes -------------------------------------------------------------


def test_kustomizations_list_every_file_of_their_folder():
    """A manifest left out of its kustomization would silently never be deployed."""

    def own_files(directory: Path) -> set[str]:
        return {p.name for p in directory.glob("*.yaml")} - {"kustomization.yaml"}

    top = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert top["resources"] == ["base"] and own_files(K8S) == set()
    listed = yaml.safe_load((BASE / "kustomization.yaml").read_text())["resources"]
    assert set(listed) == own_files(BASE)
    overlay = yaml.safe_load((DEV / "kustomization.yaml").read_text())
    patches = {patch["path"] for patch in overlay["patches"]}
    assert set(overlay["resources"]) - {"../../base"} == own_files(DEV) - patches


# The test extras install kubectl into the virtualenv, which may not be on PATH.
KUBECTL = shutil.which(
    "kubectl", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
)


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
@pytest.mark.parametrize("directory", [K8S, BASE, DEV], ids=["k8s", "base", "dev"])
def test_our_kustomize_renders_what_kubectl_renders(directory):
    """kubectl renders every kustomization, and exactly as the checks here read it."""
    assert KUBECTL is not None
    result = subprocess.run(
        [KUBECTL, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    ours = kustomize(directory)

    def canonical(documents: list[dict[str, Any]]) -> list[str]:
        return sorted(json.dumps(d, sort_keys=True) for d in documents)

    assert canonical(rendered) == canonical(ours)


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_kubernetes_objects_are_of_the_kinds_these_checks_know(rendering):
    """A new kind (a StatefulSet, a CronJob) would slip past the pod checks below."""
    assert {d["kind"] for d in RENDERINGS[rendering]()} <= KNOWN_KINDS


@pytest.mark.parametrize("name", ["api", "worker", "projector", "psp"])
def test_kubernetes_deployments_probe_and_expose_the_right_ports(name):
    documents = dev()  # the base and the simulator
    deployment = named(documents, "Deployment", name)
    template = deployment["spec"]["template"]
    (container,) = template["spec"]["containers"]
    parser().parse_args(container["args"])
    port = OPERATIONS_PORT[name]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port}
    exposed = {p["containerPort"] for p in container["ports"]}
    assert METRICS_PORTS.get(name, {port}) <= exposed
    service = named(documents, "Service", name)
    assert {p["targetPort"] for p in service["spec"]["ports"]} == exposed
    if template["metadata"]["annotations"]["prometheus.io/scrape"] == "true":
        assert int(template["metadata"]["annotations"]["prometheus.io/port"]) in METRICS_PORTS[name]


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_kubernetes_configuration_is_settings_and_api_and_worker_autoscale(rendering):
    documents = RENDERINGS[rendering]()
    (config,) = of_kind(documents, "ConfigMap")
    for variable, value in config["data"].items():
        assert variable in SETTINGS or variable.startswith("OTEL_"), variable
        if variable.endswith("_PORT"):
            assert int(value) == getattr(DEFAULTS, variable.lower())
    scaled = {
        d["spec"]["scaleTargetRef"]["name"] for d in of_kind(documents, "HorizontalPodAutoscaler")
    }
    assert scaled == {"api", "worker"}


def test_base_runs_every_process_in_production():
    """SHOP_ENV=production in what each pod reads, not only as the image's default."""
    documents = base()
    for _, app, pod in workloads(documents):
        for container in pod["containers"]:
            assert configured_environment(documents, container)["SHOP_ENV"] == "production", app


def test_base_leaves_the_payment_provider_to_the_deployer():
    """No simulator in the base, and no PSP_URL: a deploy that forgets the real provider
    crashes at start (loud), instead of paying through a fake (silent)."""
    documents = base()
    assert not [d for d in documents if d["metadata"]["name"] == "psp"]
    for _, app, pod in workloads(documents):
        for container in pod["containers"]:
            assert container["args"][0] != "psp", app
            environment = pod_environment(documents, container)
            assert "PSP_URL" not in environment, app
            with pytest.raises(ValidationError, match="PSP_URL"):
                settings_from({**environment, "DATABASE_URL": "postgresql://shop@db/shop"})


def test_dev_overlay_pays_through_the_simulator():
    documents = dev()
    simulator = named(documents, "Deployment", "psp")
    (container,) = simulator["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["psp"]
    for _, app, pod in workloads(documents):
        for process in pod["containers"]:
            environment = pod_environment(documents, process)
            settings = settings_from({**environment, "DATABASE_URL": "postgresql://shop@db/shop"})
            url = urlsplit(settings.psp_url)
            service = named(documents, "Service", str(url.hostname))
            assert service["spec"]["selector"] == {"app": "psp"}, app
            (port,) = [p for p in service["spec"]["ports"] if p["port"] == url.port]
            assert port["targetPort"] == container["ports"][0]["containerPort"] == settings.psp_port


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_every_pod_is_denied_all_traffic_by_default(rendering):
    """A policy that selects every pod and allows nothing, both ways: a new pod in the
    namespace talks to no one until a policy says so."""
    policies = of_kind(RENDERINGS[rendering](), "NetworkPolicy")
    deny = [
        p["spec"]
        for p in policies
        if p["spec"]["podSelector"] == {}
        and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert deny, "no default-deny NetworkPolicy"


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_network_policies_open_exactly_the_flows_the_system_needs(rendering):
    """Each opening names its port and its peers: metrics to the monitoring namespace only,
    the payment provider and the issuer outside the cluster only, DNS to kube-dns only."""
    documents = RENDERINGS[rendering]()
    opened, expected = opened_flows(documents), expected_flows(documents)
    assert opened == expected, {
        "opened, not needed": sorted(map(str, opened - expected)),
        "needed, not opened": sorted(map(str, expected - opened)),
    }


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_every_pod_runs_locked_down(rendering):
    """The image's user, never root, read-only root filesystem, no privilege escalation, no
    capabilities, the runtime's seccomp profile, no service-account token (no pod here talks
    to the Kubernetes API), and no service-link variables (API_PORT=tcp://… is a setting)."""
    user = image_user()
    for _, app, pod in workloads(RENDERINGS[rendering]()):
        assert pod.get("automountServiceAccountToken") is False, app
        assert pod.get("enableServiceLinks") is False, app
        assert not {"hostNetwork", "hostPID", "hostIPC"} & set(pod), app
        for volume in pod.get("volumes", []):
            assert set(volume) == {"name", "emptyDir"}, (app, volume)  # scratch space only
        for container in pod["containers"] + pod.get("initContainers", []):
            own = container.get("securityContext", {})
            effective = {**pod.get("securityContext", {}), **own}
            where = (app, container["name"])
            assert effective.get("runAsNonRoot") is True, where
            assert effective.get("runAsUser") == user, where
            assert effective.get("seccompProfile") == {"type": "RuntimeDefault"}, where
            assert own.get("readOnlyRootFilesystem") is True, where
            assert own.get("allowPrivilegeEscalation") is False, where
            assert own.get("capabilities") == {"drop": ["ALL"]}, where


def quantity(value: str | int) -> float:
    """A Kubernetes quantity as a number ("250m" CPU, "512Mi" memory)."""
    units = {"": 1.0, "m": 1e-3, "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30}
    match = re.fullmatch(r"([0-9.]+)(m|Ki|Mi|Gi|)", str(value))
    assert match, f"a quantity these checks cannot read: {value}"
    return float(match[1]) * units[match[2]]


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_every_container_requests_and_limits_cpu_and_memory(rendering):
    """Without limits one runaway pod starves its node; without requests the scheduler
    and the autoscalers (CPU utilization is a share of the request) are blind."""
    for _, app, pod in workloads(RENDERINGS[rendering]()):
        for container in pod["containers"]:
            resources = container["resources"]
            for resource in ("cpu", "memory"):
                request = quantity(resources["requests"][resource])
                limit = quantity(resources["limits"][resource])
                assert 0 < request <= limit, (app, container["name"], resource)


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_images_are_pinned_to_the_project_version(rendering):
    """`:latest` or no tag deploys whatever was pushed last; the tag is the release."""
    for _, app, pod in workloads(RENDERINGS[rendering]()):
        for container in pod["containers"]:
            assert container["image"] == f"shop:{VERSION}", app
    for directory in (BASE, DEV):
        images = yaml.safe_load((directory / "kustomization.yaml").read_text())["images"]
        assert images == [{"name": "shop", "newTag": VERSION}], directory
    for name, service in compose_services().items():
        if name in OUR_SERVICES:
            assert service["image"] == f"shop:{VERSION}", name
        else:
            assert ":" in service["image"] and not service["image"].endswith(":latest"), name


def test_connection_budget_matches_the_manifests():
    """The comment in k8s/base/kustomization.yaml is the arithmetic: each row's pods are
    the manifests' (autoscaler maximum plus rollout surge), each pod's connections the
    code's engines', and the sum fits PostgreSQL's max_connections."""
    comment = (BASE / "kustomization.yaml").read_text()
    rows = {match["app"]: match for match in BUDGET_ROW.finditer(comment)}
    documents = base()
    per_pod = connections_per_pod()
    assert set(rows) == {app for _, app, _ in workloads(documents)} == set(per_pod)
    for workload, app, _ in workloads(documents):
        row = rows[app]
        field, count = pods_at_most(documents, workload)
        surge = max_surge(workload) if workload["kind"] == "Deployment" else 0
        assert (row["field"], int(row["count"])) == (field, count), app
        assert int(row["surge"] or 0) == surge, app
        assert int(row["each"]) == per_pod[app], app
        assert int(row["product"]) == (count + surge) * per_pod[app], app
    (total,) = BUDGET_TOTAL.finditer(comment)
    assert int(total["total"]) == sum(int(row["product"]) for row in rows.values())
    assert int(total["available"]) == int(total["max"]) - int(total["reserved"])
    assert int(total["total"]) <= int(total["available"])
