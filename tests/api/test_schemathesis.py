"""schemathesis against the running service's ``/openapi.json``, with every check.

The server is ``samenop serve`` on a throwaway database with the example regions; the
client an admin (the bootstrap key), so every operation is reached, writes included.
Bounded (a few dozen examples per operation, one worker) and repeatable (a fixed
seed). Any failure fails the test: a server error, a response that differs from the
document (status, body, headers, content type), a schema-violating request accepted,
a 405 without a true ``Allow``, a required header not enforced.

One allowance, in the configuration below: valid JSON that breaks a rule JSON Schema
cannot state (``end`` after ``start``, a reference to a team that exists, a phone
number that exists) is answered 422 naming the field, and that counts as accepted
handling for ``positive_data_acceptance``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from oncall.schemas import ConfigSet
from tests.api.served import served
from tests.conftest import API_KEY, BACKENDS

SEED = 20261207
MAX_EXAMPLES = 30
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422"]
"""


def schemathesis_run(base: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    config = tmp / "schemathesis.toml"
    config.write_text(CONFIG)
    st = Path(sys.executable).with_name("st")
    return subprocess.run(
        [
            str(st),
            "--config-file",
            str(config),
            "--no-color",
            "run",
            f"{base}/openapi.json",
            "--header",
            f"X-API-Key: {API_KEY}",
            "--checks",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(SEED),
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--generation-database",
            "none",
        ],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_schemathesis_finds_nothing(
    backend: str, tmp_path: Path, example_config: ConfigSet
) -> None:
    with served(backend, tmp_path, example_config) as base:
        run = schemathesis_run(base, tmp_path)
    summary = run.stdout[run.stdout.find("=== FAILURES") :] if "=== FAILURES" in run.stdout else ""
    assert run.returncode == 0, (summary or run.stdout[-6000:] + run.stderr[-2000:])[:20000]
    assert "No issues found" in run.stdout or "passed" in run.stdout
