"""README.rst's set-up commands are the ones CI runs."""

from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

ROOT = Path(__file__).resolve().parent.parent


def literal_commands():
    lines = (ROOT / "README.rst").read_text().splitlines()
    return [line.strip() for line in lines if line.startswith("    python3 -m venv")]


class ReadmeTests(SynchronousTestCase):
    """README.rst and CI agree."""

    def test_ci_runs_the_readme_test_command_as_written(self):
        install_and_run, install_and_test = literal_commands()
        assert install_and_run.endswith("twistd -n menuchat")
        assert install_and_test.endswith("pytest")
        ci = (ROOT / ".ci" / "run").read_text().splitlines()
        assert install_and_test in ci
