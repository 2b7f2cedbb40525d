"""Which warehouse nodes a sync must build: those whose inputs changed since they were last built.

A regular sync lands a handful of new raw versions, or none, yet ``dbt build`` of the whole
project costs the same every time: ~2 s to start plus ~0.1-0.4 s per node whether or not its
inputs moved (issue 19). A node's output is a function of its code and of the source tables
upstream of it, so a node needs building only when

* it was never built, or the dbt project has changed since (``fingerprint``: any model, macro
  or seed edit can change any node, so a project change rebuilds everything once);
* one of its upstream source tables has changed since its last build (``markers``: a cheap,
  monotonic summary of a table, e.g. its newest raw version);
* its relation is missing from the warehouse (dropped by hand or by a reset);
* a node it reads from is being built in the same run.

Everything else is *reused*: it already holds what a build would produce. Decision 0017.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass


@dataclass(frozen=True)
class BuildGraph:
    """The dbt nodes that build a relation (models, snapshots, seeds) and what they read.

    ``parents``: node -> the nodes it reads directly; ``sources``: node -> the source tables it
    reads directly. Both keyed by dbt unique id.
    """

    parents: Mapping[str, frozenset[str]]
    sources: Mapping[str, frozenset[str]]

    def upstream_sources(self, node: str) -> frozenset[str]:
        """Every source table ``node`` reads, directly or through other nodes."""
        seen: set[str] = set()
        found: set[str] = set()
        stack = [node]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            found |= self.sources.get(current, frozenset())
            stack.extend(self.parents.get(current, frozenset()))
        return frozenset(found)

    def in_build_order(self, nodes: Set[str]) -> list[str]:
        """``nodes`` parents first (a topological order of the graph restricted to them)."""
        ordered: list[str] = []
        placed: set[str] = set()

        def place(node: str, path: frozenset[str]) -> None:
            if node in placed:
                return
            if node in path:
                raise ValueError(f"the dbt graph has a cycle through {node}")
            for parent in sorted(self.parents.get(node, frozenset())):
                if parent in nodes:
                    place(parent, path | {node})
            placed.add(node)
            ordered.append(node)

        for node in sorted(nodes):
            place(node, frozenset())
        return ordered


@dataclass(frozen=True)
class NodeMark:
    """What a node was last built from: the project fingerprint and each upstream source's marker."""

    fingerprint: str
    markers: Mapping[str, str]
    run_id: str


def build_reasons(graph: BuildGraph, selected: Set[str], *, fingerprint: str, markers: Mapping[str, str],
                  marks: Mapping[str, NodeMark], missing: Set[str]) -> dict[str, str | None]:
    """For each selected node, why it must be built, or None when its last build can be reused.

    ``markers`` holds the current marker of every tracked source table; a source without one
    (bookkeeping read only by views, which are always current) never forces a build.
    """
    reasons: dict[str, str | None] = {}
    for node in graph.in_build_order(selected):
        mark = marks.get(node)
        reasons[node] = _own_reason(node, graph, mark, fingerprint=fingerprint, markers=markers,
                                    missing=missing) or _parent_reason(node, graph, reasons)
    return reasons


def _own_reason(node: str, graph: BuildGraph, mark: NodeMark | None, *, fingerprint: str,
                markers: Mapping[str, str], missing: Set[str]) -> str | None:
    if mark is None:
        return "never built"
    if mark.fingerprint != fingerprint:
        return "the dbt project changed"
    if node in missing:
        return "its relation is missing"
    changed = sorted(source for source in graph.upstream_sources(node)
                     if source in markers and mark.markers.get(source) != markers[source])
    if changed:
        return "new rows in " + ", ".join(changed)
    return None


def _parent_reason(node: str, graph: BuildGraph, reasons: Mapping[str, str | None]) -> str | None:
    rebuilt = sorted(parent for parent in graph.parents.get(node, frozenset()) if reasons.get(parent))
    return f"{rebuilt[0]} is rebuilt" if rebuilt else None
