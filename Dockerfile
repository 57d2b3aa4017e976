# One image for every process: `shop api`, `shop worker`, `shop projector`,
# `shop psp`, `shop migrate` and the operator commands.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY pyproject.toml README.md alembic.ini ./
COPY *.py ./
COPY domain domain
COPY eventstore eventstore
COPY read_models read_models
COPY activities activities
COPY workflows workflows
COPY api api
COPY projector projector
COPY psp psp
COPY observability observability
COPY ops ops
COPY devstack devstack
COPY tenancy tenancy
COPY migrations migrations
RUN pip install . \
    && groupadd --system --gid 10001 shop \
    && useradd --system --uid 10001 --gid 10001 --no-create-home shop
# Numeric, so that Kubernetes' runAsNonRoot can check it (k8s runs it as 10001).
USER 10001:10001

# Production unless told otherwise: no GraphiQL, no anonymous introspection,
# no /metrics on the public port, and no start without an explicit PSP_URL.
# `./dev` and local runs outside the image default to development.
ENV SHOP_ENV=production API_HOST=0.0.0.0 PSP_HOST=0.0.0.0 LOG_FORMAT=json
# api (public), psp (simulator), worker, projector, worker SDK, api internal.
EXPOSE 4000 4010 9569 9570 9571 9572
ENTRYPOINT ["shop"]
CMD ["api"]
