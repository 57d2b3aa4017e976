"""Every setting of every process, read once from the environment.

Every process is a `shop` command (`cli.py`): it reads one `Settings` and hands
it to the composition root (`bootstrap.py`), which passes what each part needs
down; nothing below reads the environment itself.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def package_version() -> str:
    """The installed package's version: `shop --version`, and the worker's build id."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("shop")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


class Settings(BaseSettings):
    """Configuration shared by the api, worker, projector and `dev`.

    `database_url` and `temporal_address` left unset mean "use the embedded
    servers that `dev` starts under `data_dir`".
    """

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL of the api, worker and projector: the app role "
        "(shop_app), under row-level security. Unset: embedded PostgreSQL under data_dir.",
    )
    database_owner_url: str | None = Field(
        default=None,
        description="PostgreSQL URL of the owner role, for migrations and operator commands; "
        "unset: DATABASE_URL.",
    )
    temporal_address: str | None = Field(
        default=None, description="host:port of Temporal; unset: `dev` starts a dev server."
    )
    shop_env: Literal["development", "production"] = Field(
        default="development",
        description="`production` (the image's default) turns off GraphiQL, anonymous "
        'introspection, "did you mean" suggestions, /docs and /metrics on the public port.',
    )
    temporal_namespace: str = "default"
    data_dir: Path = Path(".data")

    api_host: str = "127.0.0.1"
    api_port: int = 4000
    api_metrics_port: int = Field(
        default=9572, description="The API's internal /metrics, /healthz and /readyz."
    )
    temporal_port: int = 7233
    temporal_ui_port: int = 8233

    command_task_queue: str = "shop-commands"
    command_timeout_seconds: float = Field(
        default=30.0, description="How long a mutation waits for its command workflow."
    )
    command_activity_timeout_seconds: float = 10.0
    version_conflict_retries: int = Field(
        default=50, description="Optimistic-concurrency retries inside one command activity."
    )

    orders_task_queue: str = "shop-orders"
    inventory_task_queue: str = "shop-inventory"
    payments_task_queue: str = "shop-payments"
    shipping_task_queue: str = "shop-shipping"

    saga_step_seconds: float = Field(default=10.0, description="One attempt of a saga activity.")
    saga_step_deadline_seconds: float = Field(
        default=60.0, description="All attempts of a saga step other than the payment."
    )
    payment_deadline_seconds: float = Field(
        default=60.0, description="All attempts of the payment before the order is cancelled."
    )
    compensation_deadline_seconds: float = Field(
        default=300.0, description="All attempts of one compensation before the order FAILS."
    )
    saga_retry_initial_seconds: float = 0.5
    saga_retry_max_seconds: float = 10.0
    order_placement_timeout_seconds: float = Field(
        default=30.0, description="How long createOrder waits for the order to be recorded."
    )
    shipping_max_units: int = Field(
        default=500, description="The carrier refuses orders of more units than this."
    )
    worker_deployment: str = Field(
        default="shop", description="The Temporal Worker Deployment the workers belong to."
    )
    worker_build_id: str = Field(
        default_factory=package_version,
        description="This build's id in the deployment; the package version unless set.",
    )
    worker_versioning: bool = Field(
        default=False,
        description="Route workflow tasks by deployment version (Worker Versioning). Off, the"
        " build id is only recorded; on, an operator makes each new build current"
        " (docs/changing-things-safely.md).",
    )
    fraud_review_above: int = Field(
        default=100_000,
        description="The fraud check holds a customer's first order above this amount.",
    )

    auth_issuer: str | None = Field(
        default=None, description="The `iss` every token must carry; the API needs one to start."
    )
    auth_audience: str = Field(default="shop", description="The `aud` every token must carry.")
    auth_algorithms: list[str] = Field(
        default=["RS256"],
        description="Signature algorithms accepted, all of one family (RS/PS/ES/EdDSA, or HS).",
    )
    auth_jwks_url: str | None = Field(
        default=None, description="The issuer's JWKS URL (OIDC), for production."
    )
    auth_public_key_file: Path | None = Field(
        default=None, description="A PEM public key, instead of a JWKS URL (`./dev` sets one)."
    )
    auth_shared_secret: SecretStr | None = Field(
        default=None, description="An HS* shared secret, for simple deployments; no default."
    )
    auth_roles_claim: str = Field(
        default="roles", description="The roles' claim, or a dotted path (realm_access.roles)."
    )
    auth_tenant_claim: str = "tenant"
    dev_graphiql_token: SecretStr | None = Field(
        default=None,
        description="Development only (`./dev` sets it): GraphiQL starts with this token in "
        "its headers. Never set it where real users are.",
    )
    auth_leeway_seconds: float = Field(default=30.0, description="Clock skew allowed on exp/nbf.")
    auth_jwks_cooldown_seconds: float = Field(
        default=30.0, description="Least time between refetches of the JWKS for unknown key ids."
    )

    graphql_max_depth: int = Field(default=10, description="Deepest selection a query may nest.")
    graphql_max_aliases: int = Field(
        default=30, description="Aliases in one document, counted through fragments too."
    )
    graphql_max_tokens: int = Field(default=2000, description="Tokens in one GraphQL document.")
    graphql_max_cost: int = Field(
        default=20_000,
        description="Most objects a query may return at worst: each list's `first` (or its "
        "largest page) multiplied down every path.",
    )
    graphql_max_fields: int = Field(
        default=5_000, description="Fields in one document once its fragments are expanded."
    )
    subscriptions_per_socket: int = Field(
        default=20, description="Subscriptions one WebSocket may run at once."
    )
    subscription_recheck_seconds: float = Field(
        default=30.0,
        description="An idle subscription re-reads its order this often, in case a wake-up "
        "was lost; changes of the order wake it at once.",
    )
    read_cache_entries: int = Field(
        default=1_000,
        ge=0,
        description="Responses to public catalog queries the API keeps (0: none); "
        "see api/guards/read_cache.py.",
    )
    read_cache_max_bytes: int = Field(
        default=8_000_000,
        ge=0,
        description="Most bytes of answers (as JSON; about four times that in memory) "
        "the read cache keeps; one over a tenth of it is not kept.",
    )
    read_cache_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Longest an entry of the read cache is served, should a change "
        "go unannounced; changes of its tenant drop it at once.",
    )
    graphql_persisted_queries_max_bytes: int = Field(
        default=2_000_000,
        ge=0,
        description="Most bytes of query texts the API remembers by hash for automatic "
        "persisted queries (0: none; a text over 10,000 characters is never kept); "
        "see api/guards/persisted_documents.py.",
    )
    graphql_trusted_documents: Path | None = Field(
        default=None,
        description='A manifest of trusted documents (`{"sha256:<hex>": document}`, as '
        "`@graphql-codegen/client-preset` writes it): when set, the API runs only those.",
    )
    graphql_trusted_documents_admins_may_send_any: bool = Field(
        default=False,
        description="With trusted documents, let callers with the admin role send any "
        "document (for GraphiQL and operators' scripts).",
    )
    graphql_public_max_age_seconds: int = Field(
        default=30,
        ge=0,
        description="`Cache-Control: public, max-age` of anonymous catalog answers to "
        "GET: how long a browser or CDN may reuse one (0: must revalidate every time).",
    )
    sockets_per_caller: int = Field(
        default=5, description="WebSockets one caller (a token subject) may hold per API process."
    )
    request_max_bytes: int = Field(
        default=1_000_000, description="Largest request body; over it, 413 before parsing."
    )

    psp_url: str = "http://127.0.0.1:4010"
    psp_host: str = "127.0.0.1"
    psp_port: int = 4010
    psp_ledger_file: Path | None = Field(
        default=None,
        description="Where the payment simulator keeps its books across restarts; unset: in "
        "memory (`./dev` keeps them under DATA_DIR, so `./dev audit` still finds its charges).",
    )
    psp_timeout_seconds: float = Field(default=2.0, description="One call to the payment provider.")
    psp_breaker_failures: int = Field(
        default=5, description="Consecutive provider faults that open the circuit breaker."
    )
    psp_breaker_recovery_seconds: float = Field(
        default=10.0, description="How long the open breaker fails calls before trying again."
    )

    projector_poll_seconds: float = Field(
        default=1.0, description="Upper bound on a follower's wait between reads."
    )
    projector_batch_size: int = 500

    worker_metrics_port: int = Field(
        default=9569, description="The worker's /metrics, /healthz and /readyz."
    )
    worker_sdk_metrics_port: int = Field(
        default=9571, description="The Temporal SDK's own Prometheus exporter in the worker."
    )
    projector_metrics_port: int = Field(
        default=9570, description="The projector's /metrics, /healthz and /readyz."
    )
    projector_max_lag_seconds: float = Field(
        default=30.0, description="Readiness fails while a projection trails the log by more."
    )
    service_name: str = Field(default="shop", description="Prefix of the traced service names.")
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, description="Where to send traces (OTLP over HTTP); unset: tracing is off."
    )

    log_format: str = Field(default="json", description="`json` or `console`.")
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _production_names_its_payment_provider(self) -> Settings:
        # The default PSP_URL is the development simulator: production must never
        # "take payments" from a fake because a setting was forgotten.
        if self.shop_env == "production" and "psp_url" not in self.model_fields_set:
            raise ValueError("SHOP_ENV=production needs PSP_URL: the real payment provider's URL")
        return self

    @property
    def production(self) -> bool:
        return self.shop_env == "production"

    @property
    def command_timeout(self) -> timedelta:
        return timedelta(seconds=self.command_timeout_seconds)

    @property
    def command_activity_timeout(self) -> timedelta:
        return timedelta(seconds=self.command_activity_timeout_seconds)

    def require_database_url(self) -> str:
        """The database URL, which `dev` fills in when it runs the embedded server."""
        if self.database_url is None:
            raise RuntimeError(
                "DATABASE_URL is not set: start ./dev (commands beside it find it), or set it"
            )
        return self.database_url

    def require_database_owner_url(self) -> str:
        """Where migrations and operator commands connect: the owner role."""
        return self.database_owner_url or self.require_database_url()

    def require_temporal_address(self) -> str:
        if self.temporal_address is None:
            raise RuntimeError(
                "TEMPORAL_ADDRESS is not set: start ./dev (commands beside it find it), or set it"
            )
        return self.temporal_address
