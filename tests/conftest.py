"""Shared fixtures come from the package's test support (shieldx.testing.fixtures)."""

from typing import Any

pytest_plugins = ["shieldx.testing.fixtures"]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """List the documentation blocks tests/test_docs.py did not run, with their reasons."""
    skipped = {
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        for name, value in getattr(report, "user_properties", ())
        if name == "doc-skipped"
    }
    if skipped:
        terminalreporter.section(f"documentation blocks not run ({len(skipped)})")
        for line in sorted(skipped):
            terminalreporter.write_line(line)
