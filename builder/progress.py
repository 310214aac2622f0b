"""What the build ships for learner progress: the `idb` IndexedDB wrapper (from the pinned npm
packages) and the JSON Schema of the progress file. The rules live in
theme/assets/satchel/progress-model.js; docs/progress.md explains them."""

from __future__ import annotations

import shutil
from pathlib import Path

from . import ROOT
from .nodejs import ensure_node_env
from .search import VENDOR_DIR

SCHEMA = ROOT / "docs" / "progress.schema.json"
SCHEMA_URL = "satchel/progress.schema.json"
IDB_URL = f"{VENDOR_DIR}/idb.umd.js"


def write_progress_files(site_dir: Path) -> None:
    idb = ensure_node_env() / "node_modules" / "idb" / "build" / "umd.js"
    (site_dir / IDB_URL).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(idb, site_dir / IDB_URL)
    (site_dir / SCHEMA_URL).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SCHEMA, site_dir / SCHEMA_URL)
