"""The dbt project as the incremental build sees it: its node graph and a fingerprint of its files.

Read from dbt's own manifest (``target/manifest.json``), so the graph is exactly the one
``dbt build`` runs. The fingerprint hashes the project's files rather than trusting the
manifest's per-node checksums, which leave out the macros a model calls.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from greenlight_dagster.core.build_plan import BuildGraph

#: The files and folders of a dbt project whose content decides what its nodes build.
PROJECT_INPUTS = ("models", "snapshots", "seeds", "macros", "tests", "dbt_project.yml", "profiles.yml")
#: Node types that build a relation; tests build nothing and run with the nodes they test.
BUILT_TYPES = ("model", "snapshot", "seed")


@dataclass(frozen=True)
class WarehouseNodes:
    """The relation-building nodes of the manifest: their graph, relations and materializations."""

    graph: BuildGraph
    relations: Mapping[str, tuple[str, str]]  # unique id -> (schema, name)
    materialized: Mapping[str, str]
    names: Mapping[str, str]  # unique id -> the node name dbt selects it by

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> WarehouseNodes:
        nodes = {uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] in BUILT_TYPES}
        source_tables = {uid: f"{source['schema']}.{source['identifier']}"
                         for uid, source in manifest["sources"].items()}
        parent_map: Mapping[str, list[str]] = manifest["parent_map"]
        return cls(
            graph=BuildGraph(
                parents={uid: frozenset(p for p in parent_map.get(uid, []) if p in nodes) for uid in nodes},
                sources={uid: frozenset(source_tables[p] for p in parent_map.get(uid, []) if p in source_tables)
                         for uid in nodes},
            ),
            relations={uid: (node["schema"], node.get("alias") or node["name"]) for uid, node in nodes.items()},
            materialized={uid: node["config"]["materialized"] for uid, node in nodes.items()},
            names={uid: node["name"] for uid, node in nodes.items()},
        )


def project_fingerprint(project_dir: Path) -> str:
    """sha256 over the project's input files (path and content) and the dbt version that builds them."""
    digest = hashlib.sha256(f"dbt-core {version('dbt-core')}\n".encode())
    for name in PROJECT_INPUTS:
        root = project_dir / name
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            digest.update(str(path.relative_to(project_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
