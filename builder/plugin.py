"""The mkdocs plugin: a thin adapter that feeds the curriculum model to mkdocs and the theme.

mkdocs-static-i18n runs one mkdocs build per language; this plugin's events run in each of them,
and `bundle.finish` runs once, after the last language is written. `satchel build` runs each
language's build in its own process instead (builder/parallel.py) and finishes the bundle itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote

from mkdocs.config import base, config_options
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, CombinedEvent, event_priority
from mkdocs.structure.files import File, Files, InclusionLevel

from . import assets, bundle, i18n_shim, markdown_reuse, media, quiz, remote, tv  # noqa: F401 (i18n_shim: BCP 47 tags for mkdocs-static-i18n)
from .curriculum import CONFIG_FILE, STRINGS_DIR, Curriculum, load_curriculum
from .links import rewrite_root_links
from .pages import HOME, OFFLINE_SLUG, TV_SLUG, PageContext, home_markdown, make_language_script, offline_markdown, page_id
from .problems import format_problems
from .search import search_document, start_index
from .strings import ui_strings

# Material's files that Satchel pages never load: its JavaScript (search, instant loading) and
# the lunr language packs. Dropping them keeps the bundle small for hubs and installs.
# material's stylesheet is purged and bundled with Satchel's own (builder/assets.py).
UNUSED_THEME_PREFIXES = ("assets/javascripts/", "assets/stylesheets/")


class SatchelConfig(base.Config):
    curriculum = config_options.Optional(config_options.Dir(exists=True))


class SatchelPlugin(BasePlugin[SatchelConfig]):
    def __init__(self):
        self.curriculum: Curriculum | None = None
        self.language: str = ""
        self.pack_files: dict[str, list[File]] = {}
        self.progress = None  # set by `satchel build`: called twice per page (converted, written)
        self._docs_by_path: dict | None = None
        self.search_documents: dict[str, list[dict]] = {}
        self.search_jobs: dict = {}
        self.assets: assets.Assets | None = None  # the bundled scripts and stylesheet, made once
        self.language_scripts: dict = {}  # code -> LanguageScript, made before the language's pages
        self.ui_strings: dict[str, dict] = {}  # code -> the language's interface strings, read once per language build
        self.finish_in_parent = False  # set in a language's process (builder/parallel.py): the parent indexes and finishes
        self.asset_urls: dict | None = None  # the bundled files' URLs, which every page names (self.assets.urls)
        self.before_writing = None  # set in a language's process: called once its pages are converted, before any is written

    @event_priority(-150)  # after mkdocs-static-i18n has set this build's language
    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        markdown_reuse.install()
        if self.curriculum is None:
            root = Path(self.config.curriculum or config.docs_dir)
            curriculum, problems = load_curriculum(root)
            if problems or curriculum is None:
                raise PluginError("The curriculum has problems:\n" + format_problems(problems, root.resolve()))
            self.curriculum = curriculum
        i18n = config.plugins.get("i18n")
        self.language = getattr(i18n, "current_language", None) or self.curriculum.default_language.code
        self.ui_strings.pop(self.language, None)  # read again by each build of the language (a strings file may have changed)
        config.site_name = self.curriculum.title(self.language)
        if self.asset_urls is None:  # a language's process (builder/parallel.py) is given them
            self.prepare(config)
            self.asset_urls = self.assets.urls
        config.theme["satchel_assets"] = self.asset_urls
        # No sitemap (it dates every build) and no 404 page from material: we write our own pages.
        config.theme.static_templates.discard("sitemap.xml")
        config.theme.static_templates.discard("404.html")
        return config

    def prepare(self, config: MkDocsConfig) -> None:
        """The learner app's bundled scripts and stylesheet, made once for every language."""
        if self.assets is None:
            self.assets = self.start_assets(config)()

    def start_assets(self, config: MkDocsConfig):
        """prepare, in the background: returns a function that waits for the Assets."""
        return assets.start(self.curriculum, _material_stylesheet(config), bundle.colours_css(self.curriculum))

    @event_priority(50)  # before mkdocs-static-i18n sorts the files by language
    def _drop_unused_files(self, files: Files, config: MkDocsConfig) -> Files:
        # Other languages' pages: this language's build neither writes them nor falls back to them
        # (only to the default language's), and mkdocs-static-i18n would make an i18n file of each.
        default = self.curriculum.default_language.code
        others = tuple(f"{lang.code}/" for lang in self.curriculum.languages if lang.code not in (self.language, default))
        unused = (f"{STRINGS_DIR}/", *UNUSED_THEME_PREFIXES, *others)

        def used(file: File) -> bool:
            uri = file.src_uri
            if uri in (CONFIG_FILE, "sitemap.xml") or uri.endswith(".map") or uri.startswith(unused):
                return False
            # Media are written under assets/media/ by bundle.finish, named by content (builder/media.py).
            return not (file.abs_src_path and media.is_source(Path(file.abs_src_path)))

        return Files([file for file in files if used(file)])

    @event_priority(-105)  # after mkdocs-static-i18n has picked this language's files, before the packs list them
    def _reencode_images(self, files: Files, config: MkDocsConfig) -> Files:
        """PNG and JPEG images resized and re-encoded (builder/media.py): the same URL but for the extension."""
        self.images: dict[str, media.EncodedImage] = {}
        self.image_names: dict[str, str] = {}
        for file in list(files):
            if file.abs_src_path is None or Path(file.src_uri).suffix.lower() not in media.RASTER or not Path(file.abs_src_path).is_file():
                continue
            try:
                encoded = media.encode_image(Path(file.abs_src_path), self.curriculum.media.max_image_width)
            except OSError:
                continue  # not an image Pillow reads: copied as it is
            file.content_bytes = encoded.data
            file.dest_uri = media.built_image_name(file.dest_uri, encoded)
            file.url = media.built_image_name(file.url, encoded)
            file.abs_dest_path = str(Path(config.site_dir, file.dest_uri))
            self.images[file.dest_uri] = encoded
            if encoded.smaller is not None:
                smaller = File.generated(config, media.smaller_name(file.src_uri, encoded), content=encoded.smaller[1])
                smaller.dest_uri = media.smaller_name(file.dest_uri, encoded)
                smaller.url = smaller.dest_uri
                smaller.abs_dest_path = str(Path(config.site_dir, smaller.dest_uri))
                if hasattr(file, "locale"):
                    smaller.locale = file.locale
                smaller.norm_src_uri = media.smaller_name(getattr(file, "norm_src_uri", file.src_uri), encoded)
                self.image_names[file.dest_uri] = smaller.dest_uri
                files.append(smaller)
        return files

    @event_priority(-110)  # after mkdocs-static-i18n has picked this language's files
    def _add_generated_pages(self, files: Files, config: MkDocsConfig) -> Files:
        code = self.language
        generated = [("index.md", home_markdown, InclusionLevel.INCLUDED)] if code not in self.curriculum.homes else []
        generated.append((f"{OFFLINE_SLUG}.md", offline_markdown, InclusionLevel.NOT_IN_NAV))
        generated.append((f"{TV_SLUG}.md", tv.tv_markdown, InclusionLevel.NOT_IN_NAV))  # the classroom TV (builder/tv.py)
        for name, make, inclusion in generated:
            file = File.generated(config, f"{code}/{name}", content=make(self.curriculum, code), inclusion=inclusion)
            _as_i18n_file(file, code, name, self.curriculum.default_language.code, config)
            files.append(file)
        self.pack_files[code] = [f for f in files if hasattr(f, "locale")]
        return files

    def on_nav(self, nav, config, files):
        """Before this language's pages are read: its script, which every page of it names."""
        context = PageContext(self.curriculum, self.language, HOME, self.language)
        dialogs = config.theme.get_env().get_template("dialogs.html").render(satchel=context, config=config)
        self.language_scripts[self.language] = make_language_script(context, dialogs)
        return nav

    def on_page_read_source(self, page, config):
        """Hand mkdocs the Markdown we already read and checked: each file is read and parsed once.
        The leading blank line tells mkdocs there is no front matter left to parse."""
        doc = self._documents().get(page.file.abs_src_path)
        return None if doc is None else "\n" + doc.body

    def _documents(self) -> dict:
        if self._docs_by_path is None:
            self._docs_by_path = {str(doc.path): doc for doc in self.curriculum.documents()}
        return self._docs_by_path

    def on_page_markdown(self, markdown, page, config, files):
        doc = self._documents().get(page.file.abs_src_path)
        if doc is not None:
            page.meta = dict(doc.meta)
        context = self._context(page)
        page.meta["template"] = f"{context.kind}.html" if context.kind != "page" else "main.html"
        markdown, page.satchel.teacher_notes = tv.extract_notes(markdown)  # on no learner's page: the presenter's notes file
        if doc is not None:  # video, audio, PDF and EPUB links -> players and links to assets/media/ (builder/media.py)
            rendered = media.render(markdown, str(doc.path), self.curriculum.media_uses, "../" * page.url.count("/"), self.language,
                                    self.curriculum, context.node_id, context.strings)
            context.has_media, markdown = rendered != markdown, rendered  # then the page loads media.js
        markdown = remote.localize_page(markdown, page, config)  # remote images -> the copies --fetch-remote made
        if doc is not None:  # /shared/map.png -> ../../../shared/map.png
            markdown = rewrite_root_links(markdown, Path(os.path.relpath(self.curriculum.root, doc.path.parent)).as_posix() + "/",
                                          lambda path: _url_from(page, files, path))
        if context.kind == "lesson" and quiz.QUIZ_FENCE_RE.search(markdown):
            context.has_quiz = True
            markdown = quiz.render(markdown, context.strings, context.node_id.replace("/", "-"))
        return markdown

    def on_page_content(self, html, page, config, files):
        if self.progress is not None:
            self.progress()
        if getattr(self, "images", None):
            html = media.add_image_sizes(html, page.url, self.images, self.image_names)
        if tv.LEFT_IN_PAGE_RE.search(html):  # a box extract_notes could not reach (in a quote, in raw HTML)
            raise PluginError(f"{page.file.abs_src_path}: a teacher's box is inside a quote or another block, where it would show "
                              "on the learners' page; put `!!! teacher` at the start of a line (or indented under a list item)")
        context = self._context(page)
        if context.kind in ("lesson", "unit", "subject"):
            trail = [crumb.title for crumb in context.breadcrumbs[1:]]
            self.search_documents.setdefault(self.language, []).append(search_document(
                context.node_id, str(page.title), trail, page.url, context.subject.id, html))
        return html

    def _context(self, page) -> PageContext:
        """The page's PageContext, made once and kept on the page."""
        if getattr(page, "satchel", None) is None:
            node_id = page_id(getattr(page.file, "norm_src_uri", page.file.src_uri))
            page.satchel = PageContext(self.curriculum, self.language, node_id, getattr(page.file, "locale", self.language),
                                       self._strings())
            page.satchel.language_script = self.language_scripts[self.language]
        return page.satchel

    def _strings(self) -> dict:
        """This language's interface strings, read once per language (every page's PageContext shares them)."""
        if self.language not in self.ui_strings:
            fallbacks = self.curriculum.language(self.language).fallbacks
            self.ui_strings[self.language] = ui_strings(self.language, self.curriculum.root, fallbacks)
        return self.ui_strings[self.language]

    def on_post_page(self, output, page, config):
        if self.progress is not None:
            self.progress()
        context = self._context(page)
        if context.kind == "lesson" and getattr(context, "teacher_notes", None):
            tv.write_notes(Path(config.site_dir), self.curriculum, self.language, context.node_id, context.teacher_notes)
        return output

    def on_page_context(self, context, page, config, nav):
        context["satchel"] = self._context(page)
        if context["satchel"].kind == "tv":
            context["tv_config"] = tv.tv_config(context["satchel"])
        return context

    def on_env(self, env, config: MkDocsConfig, files: Files):
        if self.before_writing is not None:
            self.before_writing()
        return env

    def _index_language(self, config: MkDocsConfig) -> None:
        """This language's pages are written: index them in the background while the next builds."""
        if self.finish_in_parent:
            return
        documents = self.search_documents.get(self.language, [])
        self.search_jobs[self.language] = start_index(self.language, documents, Path(config.site_dir))

    @event_priority(-200)  # after mkdocs-static-i18n has built every other language
    def _finish_bundle(self, config: MkDocsConfig) -> None:
        i18n = config.plugins.get("i18n")
        if getattr(i18n, "building", False) or self.finish_in_parent:
            return
        site = Path(config.site_dir)
        pages = {lang.code: bundle.page_entries(self.curriculum, self.pack_files[lang.code], site) for lang in self.curriculum.languages}
        bundle.write_shared(self.curriculum, site)
        bundle.finish(self.curriculum, site, pages, self.search_jobs, self.search_documents, self.assets, self.language_scripts)

    on_files = CombinedEvent(_drop_unused_files, _reencode_images, _add_generated_pages)
    on_post_build = CombinedEvent(_index_language, _finish_bundle)


def _as_i18n_file(file: File, code: str, name: str, default: str, config: MkDocsConfig) -> None:
    """Give a generated page the attributes mkdocs-static-i18n gives the files it picks."""
    stem = name.removesuffix(".md")
    directory = "" if stem == "index" else f"{stem}/"
    prefix = "" if code == default else f"{code}/"
    file.dest_uri = f"{prefix}{directory}index.html"
    file.url = f"{prefix}{directory}" or "./"
    file.abs_dest_path = str(Path(config.site_dir, file.dest_uri))
    file.locale = file.locale_alternate_of = file.localization = code
    file.alternates = {code: file}
    file.norm_src_uri = name


def _url_from(page, files: Files, path: str) -> str:
    """The URL of the curriculum's file `path` relative to `page`: where this language's build put it."""
    file = files.get_file_from_path(unquote(path.split("#", 1)[0].split("?", 1)[0]))
    return "../" * page.url.count("/") + (file.url if file is not None else path)


def _material_stylesheet(config: MkDocsConfig) -> Path:
    """material's main stylesheet, whose name carries a hash that changes with its version."""
    for folder in config.theme.dirs:
        found = sorted(Path(folder).glob("assets/stylesheets/main.*.min.css"))
        if found:
            return found[0]
    raise PluginError("mkdocs-material's main stylesheet was not found: is mkdocs-material installed?")
