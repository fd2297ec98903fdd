"""The docker-compose deployment as the README promises it (docker is not needed to check
it): every long-running service restarts by itself, two API replicas behind a proxy,
the configuration mounted rather than baked in, a non-root user in the image, and the
metric files shared by API processes and workers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict[str, Any]:
    found = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(found, dict)
    return found


def test_every_long_running_service_restarts_by_itself() -> None:
    services = compose()["services"]
    for name, service in services.items():
        if name == "migrate":
            assert service["restart"] == "no"  # a one-off, before the replicas
            continue
        assert service.get("restart") in ("unless-stopped", "always"), name


def test_two_api_replicas_behind_a_proxy_that_passes_websockets() -> None:
    services = compose()["services"]
    apis = [n for n, s in services.items() if "serve" in (s.get("command") or [])]
    assert len(apis) == 2
    for name in apis:
        assert "ports" not in services[name]  # only through the proxy
        assert services[name]["healthcheck"]
    proxy = services["proxy"]
    assert proxy["ports"] == ["8000:8000"]
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    for name in apis:
        assert f"server {name}:8000" in conf
    assert "proxy_set_header Upgrade $http_upgrade" in conf
    assert "$request " not in conf and "$request_uri" not in conf  # no query strings logged
    assert services["worker"]["deploy"]["replicas"] == 2


def test_the_configuration_is_mounted_not_baked_in() -> None:
    services = compose()["services"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY regions" not in dockerfile
    for name, service in services.items():
        if "serve" in (service.get("command") or []):
            assert "./regions:/app/regions:ro" in service["volumes"], name


def test_the_image_runs_as_an_unprivileged_user_and_copies_every_package() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    packages = {"core", "access", "oncall", "dispatch", "notifications", "api", "migrations"}
    for package in packages:
        if (ROOT / package).is_dir():
            assert f"COPY {package} {package}" in lines, package


def test_processes_share_their_metric_files() -> None:
    data = compose()
    services = data["services"]
    assert "metrics" in data["volumes"]
    for name in ("api1", "api2", "worker"):
        env = services[name]["environment"]
        assert env["SAMENOP_METRICS_DIR"] == "/var/lib/samenop/metrics"
        assert "metrics:/var/lib/samenop/metrics" in services[name]["volumes"], name
        assert env["SAMENOP_LOG_FORMAT"] == "json"
