"""Which warehouse nodes a build must run (core/build_plan.py), on a small graph.

    raw.a -> stg_a -> fact (table) <- stg_b <- raw.b
                          ^
    seed -----------------'            ops.log -> report (view)
"""

from __future__ import annotations

import pytest

from greenlight_dagster.core.build_plan import BuildGraph, NodeMark, build_reasons

GRAPH = BuildGraph(
    parents={"stg_a": frozenset(), "stg_b": frozenset(), "seed": frozenset(),
             "fact": frozenset({"stg_a", "stg_b", "seed"}), "report": frozenset()},
    sources={"stg_a": frozenset({"raw.a"}), "stg_b": frozenset({"raw.b"}), "seed": frozenset(),
             "fact": frozenset(), "report": frozenset({"ops.log"})},
)
ALL = set(GRAPH.parents)
MARKERS = {"raw.a": "7@t1", "raw.b": "3@t1"}  # ops.log has no marker: read only by a view


def _marks(markers: dict[str, str] = MARKERS, fingerprint: str = "f1") -> dict[str, NodeMark]:
    return {node: NodeMark(fingerprint, {s: markers[s] for s in GRAPH.upstream_sources(node) if s in markers}, "r1")
            for node in ALL}


def _to_build(**changes: object) -> set[str]:
    arguments: dict[str, object] = {"fingerprint": "f1", "markers": MARKERS, "marks": _marks(), "missing": set(),
                                    **changes}
    selected = arguments.pop("selected", ALL)
    reasons = build_reasons(GRAPH, selected, **arguments)  # type: ignore[arg-type]
    assert set(reasons) == selected
    return {node for node, reason in reasons.items() if reason}


def test_nothing_changed_builds_nothing() -> None:
    assert _to_build() == set()


def test_new_rows_build_what_reads_them_and_nothing_else() -> None:
    assert _to_build(markers={**MARKERS, "raw.b": "4@t2"}) == {"stg_b", "fact"}


def test_a_reloaded_table_with_the_same_newest_id_counts_as_changed() -> None:
    assert _to_build(markers={**MARKERS, "raw.a": "7@t9"}) == {"stg_a", "fact"}


def test_a_project_change_builds_everything_once() -> None:
    assert _to_build(fingerprint="f2") == ALL


def test_never_built_nodes_are_built() -> None:
    marks = _marks()
    del marks["seed"]
    assert _to_build(marks=marks) == {"seed", "fact"}


def test_a_missing_relation_is_rebuilt_with_what_reads_it() -> None:
    assert _to_build(missing={"stg_a"}) == {"stg_a", "fact"}


def test_a_source_without_a_marker_never_forces_a_build() -> None:
    assert _to_build(markers={**MARKERS, "ops.log": "anything"}) == {"report"}  # a new marker counts ...
    assert _to_build() == set()  # ... an untracked source does not


def test_only_selected_nodes_are_decided_and_unselected_parents_do_not_propagate() -> None:
    assert _to_build(selected={"fact"}, missing={"stg_a"}) == set()
    assert _to_build(selected={"fact", "stg_a"}, missing={"stg_a"}) == {"stg_a", "fact"}


def test_upstream_sources_are_transitive() -> None:
    assert GRAPH.upstream_sources("fact") == {"raw.a", "raw.b"}


def test_parents_come_first_and_a_cycle_is_refused() -> None:
    order = GRAPH.in_build_order(ALL)
    assert order.index("stg_a") < order.index("fact") and order.index("seed") < order.index("fact")
    with pytest.raises(ValueError, match="cycle"):
        BuildGraph(parents={"x": frozenset({"y"}), "y": frozenset({"x"})}, sources={}).in_build_order({"x", "y"})
