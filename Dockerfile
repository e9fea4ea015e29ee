# syntax=docker/dockerfile:1
# ShieldX image: `docker build -t shieldx .`; runs `shieldx up` (all four services) by default,
# `docker run shieldx serve credits` for one service per container.

# ---- builder: compilers and headers only here, never in the final image ----
FROM python:3.12-slim-bookworm AS builder
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/shieldx
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/shieldx/bin/pip install --no-compile ".[cluster,otel]" \
    && /opt/shieldx/bin/pip uninstall -y pip

# ---- runtime: the virtualenv and nothing that builds software ----
FROM python:3.12-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 shieldx \
    && useradd --system --uid 10001 --gid shieldx --home-dir /var/lib/shieldx --shell /usr/sbin/nologin shieldx \
    && install -d -o shieldx -g shieldx -m 0750 /var/lib/shieldx
COPY --from=builder /opt/shieldx /opt/shieldx
ENV PATH=/opt/shieldx/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SHIELDX_DATA_DIR=/var/lib/shieldx \
    SHIELDX_SERVER_HOST=0.0.0.0
USER 10001:10001
WORKDIR /var/lib/shieldx
VOLUME ["/var/lib/shieldx"]
# credits (with chaos and compliance), shadow, camouflage, locator
EXPOSE 5004 5005 8089 8080
# /health is liveness (never touches the database); the credits port answers under `shieldx up`.
# HEALTHCHECK_PORT lets `shieldx serve NAME` containers point it at their own port.
ENV HEALTHCHECK_PORT=5004
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ['HEALTHCHECK_PORT'], timeout=2)"]
ENTRYPOINT ["shieldx"]
CMD ["up"]
