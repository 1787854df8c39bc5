# nanonets-ingest under gunicorn. Build: docker build -t nanonets-ingest .
# Run:   docker run --env-file .env -p 8000:8000 nanonets-ingest
# No secret is baked in: NANONETS_API_KEY, WEBHOOK_SECRET ... come from the environment at run time.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=8000
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
# Nothing below is needed to start with the defaults (one route, no rules). The samples sit at the paths
# .env.example and the Lambda package use (samples/routes.yaml, samples/rules/), relative to /app; the
# rules also at /app/rules, where earlier images had them. Real routes name real models: mount your own.
COPY samples/routes.yaml /app/samples/routes.yaml
COPY samples/rules /app/samples/rules
COPY samples/rules /app/rules
WORKDIR /app
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=2)"]
# `serve` checks the settings, then execs gunicorn with service/gunicorn_conf.py (workers from CPU count,
# JSON logs, forwarded_allow_ips from FORWARDED_ALLOW_IPS). Override workers with WEB_CONCURRENCY.
ENTRYPOINT ["nanonets-ingest"]
CMD ["serve"]
