# syntax=docker/dockerfile:1
# graphql-payments: build a wheel with its dependencies, then run it as a non-root user.
# Port, workers and mode follow the environment (PAYMENTS_PORT, PAYMENTS_WORKERS,
# STRIPE_SECRET_KEY / PAYMENTS_SANDBOX): see "Docker" in the README.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY graphql_payments ./graphql_payments
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --upgrade pip \
 && /opt/venv/bin/pip install '.[postgres]'

FROM python:3.11-slim
# Real Stripe unless told otherwise: without STRIPE_SECRET_KEY the server refuses to start on
# 0.0.0.0; pass -e PAYMENTS_SANDBOX=true to serve the built-in sandbox on purpose.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PAYMENTS_HOST=0.0.0.0 \
    PAYMENTS_PORT=8000 \
    PAYMENTS_WORKERS=1 \
    PAYMENTS_DATABASE_URL=sqlite+aiosqlite:////data/payments.db
RUN useradd --system --uid 10001 --home-dir /data --create-home payments
COPY --from=build /opt/venv /opt/venv
USER payments
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s \
  CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('PAYMENTS_PORT', '8000'); sys.exit(urllib.request.urlopen(f'http://127.0.0.1:{port}/health', timeout=4).status != 200)"]
ENTRYPOINT ["graphql-payments"]
CMD ["serve"]
