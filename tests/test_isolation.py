"""Claim: a native crash in a test that runs Ray, VizDoom or envpool fails that test, not pytest."""

import os

import pytest

from tests.conftest import run_isolated


def abort_like_a_native_library() -> None:
    os.abort()  # what a C-level assertion in Ray or VizDoom does: SIGABRT


def passes(x: str) -> None:
    assert x == "ok"


def test_an_abort_in_an_isolated_test_fails_only_that_test():
    with pytest.raises(pytest.fail.Exception, match="signal 6"):
        run_isolated(abort_like_a_native_library)
    run_isolated(passes, "ok")
