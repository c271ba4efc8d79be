"""README.rst's set-up commands are the ones CI runs."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def literal_commands():
    lines = (ROOT / "README.rst").read_text().splitlines()
    return [line.strip() for line in lines if line.startswith("    python3 -m venv")]


def test_ci_runs_the_readme_test_command_as_written():
    install_and_run, install_and_test = literal_commands()
    assert install_and_run.endswith("twistd -n menuchat")
    assert install_and_test.endswith("pytest")
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert install_and_test in ci
