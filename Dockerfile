FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md alembic.ini ./
COPY core core
COPY access access
COPY oncall oncall
COPY dispatch dispatch
COPY notifications notifications
COPY api api
COPY migrations migrations
RUN pip install --no-cache-dir . \
    # the service runs as an unprivileged user that owns nothing but its metrics
    && useradd --system --uid 10001 --no-create-home --home-dir /app --shell /usr/sbin/nologin samenop \
    && mkdir -p /var/lib/samenop/metrics /app/regions \
    && chown samenop:samenop /var/lib/samenop/metrics
# The configuration (regions/) is not baked in: mount it at /app/regions (read-only).
# Processes sharing /var/lib/samenop/metrics (a volume) report their metrics together.
ENV SAMENOP_LOG_FORMAT=json SAMENOP_METRICS_DIR=/var/lib/samenop/metrics
USER samenop
EXPOSE 8000
CMD ["samenop", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
