"""The repository holds no secret that is not in the reviewed baseline (detect-secrets).

Why a test and not only a pre-commit hook: ``make test`` is what every change goes through.
The scan covers every tracked file with detect-secrets' default plugins; a finding is new when
its (file, type, hashed secret) is not in ``.secrets.baseline`` - line numbers are ignored so
moving code never fails the test. Every baseline entry was reviewed and marked
``is_secret: false`` (placeholders such as ``user:password@host`` and the local sandbox's test
credentials). To accept a new false positive after reviewing it::

    git ls-files -z | xargs -0 .venv/bin/detect-secrets scan --baseline .secrets.baseline \\
        --exclude-files '(^|/)\\.secrets\\.baseline$'
    .venv/bin/detect-secrets audit .secrets.baseline
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BASELINE = REPO / ".secrets.baseline"
EXCLUDE = r"(^|/)\.secrets\.baseline$"

Finding = tuple[str, str, str]  # file, type, hashed secret


def _findings(results: dict[str, list[dict[str, object]]]) -> set[Finding]:
    return {(path, str(r["type"]), str(r["hashed_secret"])) for path, found in results.items() for r in found}


@pytest.mark.timeout(300)
def test_no_secret_outside_the_reviewed_baseline() -> None:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True).stdout.split(b"\0")
    scanner = Path(sys.executable).with_name("detect-secrets")
    scan = subprocess.run([str(scanner), "scan", "--exclude-files", EXCLUDE,
                           *(f.decode() for f in files if f and (REPO / f.decode()).is_file())],
                          cwd=REPO, check=True, capture_output=True, text=True)
    baseline = json.loads(BASELINE.read_text())
    assert all(r.get("is_secret") is False for found in baseline["results"].values() for r in found), (
        "every baseline entry must be reviewed (detect-secrets audit)")
    new = _findings(json.loads(scan.stdout)["results"]) - _findings(baseline["results"])
    assert not new, f"possible secrets not in the reviewed baseline: {sorted((p, t) for p, t, _ in new)}"
