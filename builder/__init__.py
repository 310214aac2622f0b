"""Satchel: build a Markdown curriculum into an offline, multilingual Progressive Web App."""

from pathlib import Path

__version__ = "0.1.0"

#: The repository (or installed source tree) that holds theme/, service_worker/ and curricula/.
ROOT = Path(__file__).resolve().parent.parent
DEMO_CURRICULUM = ROOT / "curricula" / "demo"
