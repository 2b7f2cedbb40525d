"""`environment_set`: what a block sets or drops is back as it was after it, even when the block fails."""

from __future__ import annotations

import os

import pytest

from greenlight_dagster.instance.environ import environment_set


def test_set_and_dropped_variables_are_restored_and_others_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GL_TEST_KEPT", "kept")
    monkeypatch.setenv("GL_TEST_DROPPED", "was here")
    monkeypatch.setenv("GL_TEST_REPLACED", "old")
    monkeypatch.delenv("GL_TEST_NEW", raising=False)

    with pytest.raises(RuntimeError), \
            environment_set({"GL_TEST_REPLACED": "new", "GL_TEST_NEW": "1"}, drop=["GL_TEST_DROPPED"]):
        assert os.environ["GL_TEST_REPLACED"] == "new"
        assert os.environ["GL_TEST_NEW"] == "1"
        assert "GL_TEST_DROPPED" not in os.environ
        os.environ["GL_TEST_KEPT"] = "changed by the block"
        raise RuntimeError("the block fails")

    assert os.environ["GL_TEST_REPLACED"] == "old"
    assert "GL_TEST_NEW" not in os.environ
    assert os.environ["GL_TEST_DROPPED"] == "was here"
    assert os.environ["GL_TEST_KEPT"] == "changed by the block"  # not the helper's to undo


def test_nested_blocks_unwind_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GL_TEST_LAYER", raising=False)
    with environment_set({"GL_TEST_LAYER": "outer"}):
        with environment_set({"GL_TEST_LAYER": "inner"}):
            assert os.environ["GL_TEST_LAYER"] == "inner"
        assert os.environ["GL_TEST_LAYER"] == "outer"
    assert "GL_TEST_LAYER" not in os.environ
