FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md alembic.ini ./
COPY core core
COPY oncall oncall
COPY dispatch dispatch
COPY notifications notifications
COPY api api
COPY migrations migrations
COPY regions regions
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["samenop", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
