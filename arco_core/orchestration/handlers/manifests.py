"""Fold handler of code deployments."""

from __future__ import annotations

from arco_core.orchestration.events import (
    ManifestDeployed,
)
from arco_core.orchestration.state import (
    CodeManifestRow,
)
from arco_core.orchestration.tables import FoldEvent, ProjectionTables


def manifest_deployed(s: ProjectionTables, p: ManifestDeployed, ev: FoldEvent) -> bool:
    if (p.manifest_id,) in s.manifest_table.rows:
        return False
    s.insert(
        s.manifest_table,
        CodeManifestRow(
            manifest_id=p.manifest_id,
            code_version_id=p.code_version_id,
            fingerprint=p.fingerprint,
            asset_count=p.asset_count,
            deployed_at=ev.ts,
            deployed_by=p.deployed_by,
            git_branch=p.git_branch,
            git_commit=p.git_commit,
            manifest_json=p.manifest_json,
            row_version=ev.event_id,
        ),
    )
    return True
