"""The learner app's scripts and stylesheet as a device downloads them: minified, few, named by hash.

Made once per build, before any page is written (pages name them), by builder/js/bundle-assets.js
in the build's Node environment (esbuild, PurgeCSS):

  assets/satchel/core.<hash>.js   what the page and the service worker share: IndexedDB (idb),
                                  the progress model, the learner's key, sending to a hub, packs
  assets/satchel/app.<hash>.js    the rest of the page: words and numbers, painting progress,
                                  search, the offline dialog, profiles, quizzes
  sw.js (by builder/service_worker.py)
                                  the service worker with the workbox modules it imports
  assets/satchel/style.<hash>.css material's stylesheet without the rules no template, script or
                                  page of this curriculum can use, the curriculum's colours, and
                                  Satchel's own stylesheet

Named by their content's hash, they are served as immutable, and the service worker's precache
takes the copies the page already loaded from the browser's HTTP cache instead of downloading them
a second time (builder/service_worker.py).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import markdown

from . import ROOT
from .curriculum import Curriculum
from .nodejs import NodeJob, ensure_node_env
from .site_config import MARKDOWN_EXTENSIONS

THEME = ROOT / "theme"
SOURCES = THEME / "assets" / "satchel"
BUNDLE_SCRIPT = ROOT / "builder" / "js" / "bundle-assets.js"
SW_SOURCE = ROOT / "service_worker" / "sw.js"
TARGET = "chrome80"  # the browser floor (docs/browsers.md)
OUT_DIR = "assets/satchel"

# Each bundle's sources in the order they run. The core is loaded by the service worker too, so it
# touches no page (no document, no window beyond `self`).
SCRIPTS = {
    "core": ["idb", "progress-model.js", "progress-identity.js", "progress-sync.js", "packs.js"],
    "app": ["common.js", "paint.js", "search-open.js", "app.js", "progress.js"],
    # Not in the shell, minified under their own names: search.js when search is first opened
    # (search-open.js), which starts search-worker.js, which loads lunr and search-language.js; a
    # lesson with a quiz loads search-language.js and quiz.js after the app. They go with each
    # language's shared part (builder/bundle.py), which a device keeps with any of its subjects.
    "search": ["search.js"],
    "search-worker": ["search-worker.js"],
    "search-language": ["search-language.js"],
    "quiz": ["quiz.js"],
    # A lesson with video, audio or a textbook loads media.js after the app (theme/base.html):
    # downloading and removing the subject's media, "not on this phone", watching in xAPI.
    "media": ["media.js"],
    # The offline dialog's workings and the updates of kept subjects (app.js loads it when the dialog
    # is opened, or when a device that keeps subjects sees a new version): never on a first visit.
    "offline": ["offline.js"],
    "tv": ["tv.js"],  # the classroom TV page's own script (builder/tv.py), loaded by it alone
}
STANDALONE = ("search", "search-worker", "search-language", "quiz", "media", "offline", "tv")
HASHED_SCRIPTS = ("core", "app")
# The theme's sources that end up in a bundle: left out of the bundle folder.
BUNDLED = {name for key in HASHED_SCRIPTS for name in SCRIPTS[key]} - {"idb"} | {"satchel.css"}

# What the Markdown extensions the build enables can write, so that their rules survive the purge
# whichever of them a curriculum uses: every extension of MARKDOWN_EXTENSIONS, once.
EXTENSION_SAMPLE = """\
# Title {: #id .class }

[TOC]

Text[^1] with `code`, *emphasis*, **strong**, <kbd>Ctrl</kbd>, <mark>mark</mark>, <abbr title="a">A</abbr>, H~2~O.

[^1]: A footnote.

| a | b |
|:--|--:|
| 1 | 2 |

Term
:   Definition

!!! note "Note"
    Text.

??? tip "Tip"
    Text.

???+ example
    Text.

```python
code = 1
```

<div markdown>
- [x] done
- [ ] item

1. one
</div>

> Quote

---

![image](image.png){ width="10" }
"""

WORD_RE = re.compile(r"[A-Za-z][\w-]*")
VARIABLE_RE = re.compile(r"--[\w-]+")
STRING_RE = re.compile(r"""(['"`])((?:\\.|(?!\1).)*?)\1""")


@dataclass
class Assets:
    urls: dict[str, str]  # "core", "app", "style" -> path in the bundle
    folder: Path  # where the files wait until the bundle is written
    worker: str  # the service worker, bundled, before builder/service_worker.py fills it in

    def write(self, site_dir: Path) -> None:
        """Put the files in the bundle, and take out the theme's unbundled sources mkdocs copied."""
        target = Path(site_dir) / OUT_DIR
        for name in BUNDLED:
            (target / name).unlink(missing_ok=True)
        for url in self.urls.values():
            shutil.copyfile(self.folder / Path(url).name, Path(site_dir) / url)
        for name in STANDALONE:
            shutil.copyfile(self.folder / f"{name}.js", target / f"{name}.js")
        shutil.rmtree(self.folder, ignore_errors=True)


def start(curriculum: Curriculum, material_css: Path, colours_css: str):
    """Bundle and minify the learner app's scripts and stylesheet for `curriculum`, in the
    background (Node): returns a function that waits for the Assets. `satchel build` converts the
    pages' Markdown meanwhile (builder/parallel.py). `material_css` is material's stylesheet (its
    folder holds material's icons too)."""
    folder = Path(tempfile.mkdtemp(prefix="satchel-assets-"))
    out = folder / "out"
    out.mkdir()
    colours = folder / "colours.css"
    colours.write_text(colours_css + _icons_css(material_css.parent.parent.parent / ".icons" / "material"), encoding="utf-8")
    # tv.js draws with tv.css's own rules (not purged) and the lessons' HTML, whose classes the pages keep already.
    scripts = [SOURCES / name for key, names in SCRIPTS.items() if key not in ("core", "tv") for name in names]
    content = sorted(str(p) for p in THEME.glob("*.html"))
    # Of the scripts, only what they write into pages: their strings (class names among them), not
    # their code (console.warn would keep material's .warning boxes).
    literals = " ".join(m.group(2) for path in scripts for m in STRING_RE.finditer(path.read_text(encoding="utf-8")))
    spec = {
        "scripts": {name: [_source(f) for f in files] for name, files in SCRIPTS.items()},
        "styles": {"purge": [str(material_css)], "keep": [str(colours), str(SOURCES / "satchel.css")]},
        "content": content,
        # Text directions are template values ({{ language.dir }}), never written out in the templates.
        "words": "ltr rtl " + " ".join(sorted(_words(curriculum))) + "\n" + literals + "\n" + _extension_sample(),
        "variables": sorted(set(VARIABLE_RE.findall((SOURCES / "satchel.css").read_text(encoding="utf-8") + colours_css))),
        "worker": str(SW_SOURCE),
        "target": TARGET,
        "out": str(out),
    }
    (folder / "spec.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    job = NodeJob(BUNDLE_SCRIPT, [str(folder / "spec.json")])
    return lambda: _bundled(job, folder, out)


def _bundled(job: NodeJob, folder: Path, out: Path) -> Assets:
    job.wait()
    urls = {}
    for name in STANDALONE:
        (out / f"{name}.js").rename(folder / f"{name}.js")
    for name, ext in [*((key, "js") for key in HASHED_SCRIPTS), ("style", "css")]:
        data = (out / f"{name}.{ext}").read_bytes()
        hashed = f"{name}.{hashlib.sha256(data).hexdigest()[:10]}.{ext}"
        (out / f"{name}.{ext}").rename(folder / hashed)
        urls[name] = f"{OUT_DIR}/{hashed}"
    return Assets(urls, folder, (out / "sw.js").read_text(encoding="utf-8"))


HEADER_ICONS = ("menu", "magnify", "translate", "download")  # theme/base.html's satchel-icon--<name>


def _icons_css(folder: Path) -> str:
    """The header's icons as CSS masks: .satchel-icon--<name> { --satchel-icon: url(data:...) }."""
    rules = []
    for name in HEADER_ICONS:
        svg = (folder / f"{name}.svg").read_text(encoding="utf-8").strip()
        rules.append(f'.satchel-icon--{name}{{--satchel-icon:url("data:image/svg+xml,{quote(svg, safe=" =:/")}")}}')
    return "\n".join(rules) + "\n"


def _source(name: str) -> str:
    """A script of the theme, or 'idb': the IndexedDB wrapper from the pinned npm packages."""
    if name == "idb":
        return str(ensure_node_env() / "node_modules" / "idb" / "build" / "umd.js")
    return str(SOURCES / name)


def _words(curriculum: Curriculum) -> set[str]:
    """Every word of the curriculum's Markdown: the class names its authors wrote are among them."""
    return {word for doc in curriculum.documents() for word in WORD_RE.findall(doc.body)}


def _extension_sample() -> str:
    names = [e if isinstance(e, str) else next(iter(e)) for e in MARKDOWN_EXTENSIONS]
    configs = {next(iter(e)): next(iter(e.values())) for e in MARKDOWN_EXTENSIONS if isinstance(e, dict)}
    return markdown.markdown(EXTENSION_SAMPLE, extensions=names, extension_configs=configs)
