"""The repository's conftest.py starts slow tests longest first (CI runs them on two workers)."""

from __future__ import annotations

from pathlib import Path

ROOT_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"


def test_slow_tests_are_collected_longest_first(pytester):
    pytester.makeconftest(ROOT_CONFTEST.read_text())
    pytester.makeini("[pytest]\nmarkers =\n    slow: takes minutes\n")
    pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.slow

        def test_unstated():
            pass

        @pytest.mark.slow(minutes=1.5)
        def test_short():
            pass

        @pytest.mark.slow(minutes=20)
        def test_long():
            pass

        def test_unstated_too():
            pass
        """
    )
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")
    names = [line.split("::")[-1] for line in result.outlines if "::" in line]
    assert names == ["test_long", "test_short", "test_unstated", "test_unstated_too"]
