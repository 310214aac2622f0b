"""What the build ships for learner progress: the JSON Schema of the progress file (the `idb`
IndexedDB wrapper, from the pinned npm packages, is bundled by builder/assets.py). The rules live in
theme/assets/satchel/progress-model.js; docs/progress.md explains them."""

from __future__ import annotations

import shutil
from pathlib import Path

from . import ROOT

SCHEMA = ROOT / "docs" / "progress.schema.json"
SCHEMA_URL = "satchel/progress.schema.json"


def write_progress_files(site_dir: Path) -> None:
    (site_dir / SCHEMA_URL).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SCHEMA, site_dir / SCHEMA_URL)
