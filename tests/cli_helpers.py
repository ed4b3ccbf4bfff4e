"""Running the `mimic` command as a user does (a subprocess, the test run's cache folder) and
checking its one-line errors."""

import os
import subprocess
import sys

from tests.conftest import cache_dir


def run_mimic(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if cache_dir() is not None:
        env["MIMIC_CACHE_DIR"] = str(cache_dir())
    return subprocess.run(
        [sys.executable, "-c", "from mimic_cli.app import main; main()", *args],
        capture_output=True, text=True, env=env, timeout=600,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mimic: error: "), result.stderr
    for word in words:
        assert word in lines[0]
