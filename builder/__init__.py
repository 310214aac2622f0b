"""Satchel: build a Markdown curriculum into an offline, multilingual Progressive Web App."""

from importlib.resources import files
from pathlib import Path

__version__ = "0.1.0"

#: The folder that holds theme/, service_worker/, docs/progress.schema.json and curricula/demo beside
#: builder/: the repository in a checkout, site-packages/satchel/ in an installed wheel (pyproject.toml
#: maps each folder into the one `satchel` namespace at the same place).
ROOT = Path(str(files(__name__))).parent
DEMO_CURRICULUM = ROOT / "curricula" / "demo"
