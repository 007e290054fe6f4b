# syntax=docker/dockerfile:1
#
# The cloudlb controller: the core and both in-tree providers (aws, gcp),
# installed from the workspace lock file, run as a non-root user.
#
#   docker build -t ghcr.io/cloudlb/cloudlb:0.1.0 .
#
# Both stages use the same Python base image, so the virtual environment built
# in the first one finds the same interpreter at the same path in the second.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

# ---- build: resolve nothing, install exactly what uv.lock pins ---------------
FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_PROJECT_ENVIRONMENT=/opt/cloudlb \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11
WORKDIR /src

# Third-party dependencies first, from the lock and the members' metadata only,
# so that this layer is reused while only our sources change.
# --no-default-groups leaves out every dependency group: the sandbox's emulated
# clouds (moto, kmock) and the test tools; no extra is asked for either.
COPY pyproject.toml uv.lock ./
COPY providers/aws/pyproject.toml providers/aws/pyproject.toml
COPY providers/gcp/pyproject.toml providers/gcp/pyproject.toml
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-default-groups --all-packages --no-install-workspace

# Then our own distributions, installed as regular (non-editable) packages so
# that the final stage needs the virtual environment only, not /src.
COPY README.md ./
COPY cloudlb cloudlb
COPY providers/aws providers/aws
COPY providers/gcp providers/gcp
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-default-groups --all-packages --no-editable \
 && /opt/cloudlb/bin/cloudlb providers

# ---- final: the interpreter, the virtual environment, nothing else -----------
FROM ${PYTHON_IMAGE} AS final
# pip, setuptools and wheel come with the base image; the controller needs
# none of them at run time, so they are removed rather than shipped.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
 && groupadd --system --gid 65532 cloudlb \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin cloudlb
COPY --from=build /opt/cloudlb /opt/cloudlb
ENV PATH=/opt/cloudlb/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# Numeric, so that Kubernetes can verify runAsNonRoot without reading /etc/passwd.
USER 65532:65532
# 9090: Prometheus /metrics; 8080: /healthz (liveness) and /readyz (readiness).
EXPOSE 9090 8080
ENTRYPOINT ["cloudlb"]
CMD ["run"]

LABEL org.opencontainers.image.title="cloudlb" \
      org.opencontainers.image.description="Cloud load balancers for Kubernetes Services of type LoadBalancer" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/cloudlb/cloudlb"
