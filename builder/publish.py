"""`satchel publish`: a built bundle to an S3-compatible bucket with the hub's headers, in an order
that never shows a device a list naming files not there yet; and nginx or Caddy configurations
that serve a bundle with those headers. The header rules are builder/headers.py's, shared with
the hub; docs/hub.md "Publishing to a CDN or an object store" says what is uploaded and why."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .headers import ENCODINGS, IMMUTABLE, IMMUTABLE_CACHE_CONTROL, REVALIDATE_CACHE_CONTROL, compressed_copy, media_type, object_headers

# Upload stages, in order: a file is uploaded only once every file it may name is there.
HASHED, CONTENT, PACK_LISTS, PACK_INDEXES, MANIFESTS, VERSION, SERVICE_WORKER = range(7)
SHA256_METADATA = "sha256"  # x-amz-meta-sha256: the content's hash, for objects whose ETag is not an MD5
WORKERS = 8


class PublishError(Exception):
    pass


def upload_stage(path: str) -> int:
    """When a bundle's file is uploaded. Hashed assets first (pages name them), then the rest of
    the content, then pack lists (they name content), the pack indexes (they name lists), the web
    manifests, satchel/version.json, and sw.js last: a device that sees a new worker finds all
    it names. A .br or .gz copy goes with its file."""
    copy = compressed_copy(path)
    path = copy[0] if copy else path
    if path == "sw.js":
        return SERVICE_WORKER
    if path == "satchel/version.json":
        return VERSION
    if path.endswith(".webmanifest"):
        return MANIFESTS
    if path.startswith("satchel/packs/"):
        return PACK_LISTS if path.count("/") > 2 else PACK_INDEXES
    return HASHED if IMMUTABLE.search(path) else CONTENT


def bundle_files(site: Path) -> list[str]:
    """Every file of a bundle, by path relative to it, in upload order (a file's compressed copies
    before the file itself, so sw.js is the very last)."""
    if not (site / "sw.js").is_file() or not (site / "satchel" / "version.json").is_file():
        raise PublishError(f"{site} is not a bundle written by `satchel build` (no sw.js or satchel/version.json)")
    paths = [path.relative_to(site).as_posix() for path in site.rglob("*") if path.is_file()]
    present = set(paths)

    def order(path: str):
        copy = compressed_copy(path)
        return (upload_stage(path), copy[0] if copy else path, copy is None or copy[0] not in present, path)

    return sorted(paths, key=order)


def headers_of(site: Path, path: str) -> dict[str, str]:
    """The headers `satchel hub` sends with this file (for a .br/.gz copy: as the encoding of its file)."""
    copy = compressed_copy(path)
    return object_headers(path, is_copy=bool(copy) and (site / copy[0]).is_file())


def parse_target(target: str) -> tuple[str, str]:
    """s3://bucket/prefix -> (bucket, "prefix/"); the prefix may be empty."""
    if not target.startswith("s3://") or not target[5:].split("/", 1)[0]:
        raise PublishError(f"the target must be s3://BUCKET or s3://BUCKET/PREFIX, not {target!r}")
    bucket, _, prefix = target[5:].partition("/")
    prefix = prefix.strip("/")
    return bucket, prefix + "/" if prefix else ""


def file_digests(path: Path) -> tuple[str, str]:
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1024 * 1024):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()


@dataclass
class Result:
    uploaded: list[str] = field(default_factory=list)  # in the order they were sent
    unchanged: int = 0
    bytes: int = 0
    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # hashed assets of earlier versions, kept by --delete

    def summary(self) -> str:
        text = f"{len(self.uploaded)} uploaded ({self.bytes / 1e6:.2f} MB), {self.unchanged} unchanged"
        if self.deleted or self.kept:
            text += f", {len(self.deleted)} deleted, {len(self.kept)} hashed assets of earlier versions kept"
        return text + "."


def s3_client(endpoint_url: str | None = None):
    try:
        import boto3
    except ImportError:
        raise PublishError("publishing needs boto3: pip install 'satchel[publish]'") from None
    return boto3.client("s3", endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None)


def remote_objects(client, bucket: str, prefix: str) -> dict[str, dict]:
    """The bucket's objects under the prefix, by path relative to it: ETag, Size, LastModified."""
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            found[item["Key"][len(prefix):]] = item
    return found


def unchanged(client, bucket: str, key: str, remote: dict | None, size: int, md5: str, sha: str) -> bool:
    """The object holds these bytes: its ETag is their MD5 (a single-part upload without KMS), or,
    for any other ETag (multipart, KMS), its stored sha256 is theirs."""
    if remote is None or remote["Size"] != size:
        return False
    etag = remote["ETag"].strip('"')
    if len(etag) == 32 and "-" not in etag:
        return etag == md5
    return client.head_object(Bucket=bucket, Key=key).get("Metadata", {}).get(SHA256_METADATA) == sha


def publish(site: Path, target: str, client=None, *, delete: bool = False, keep_hashed_days: float = 7, force: bool = False,
            dry_run: bool = False, show_progress: bool = True) -> Result:
    """Upload what changed of a bundle to s3://bucket/prefix, stage by stage (upload_stage); with
    `delete`, then remove objects the bundle no longer has, except hashed assets uploaded less
    than `keep_hashed_days` ago (a page or worker of the previous version, still open on a device,
    may yet fetch them)."""
    from tqdm import tqdm

    site = Path(site)
    bucket, prefix = parse_target(target)
    paths = bundle_files(site)
    client = client or s3_client()
    remote = remote_objects(client, bucket, prefix)
    result = Result()
    pending: list[tuple[str, int, str]] = []
    for path in paths:
        size = (site / path).stat().st_size
        md5, sha = file_digests(site / path)
        if not force and unchanged(client, bucket, prefix + path, remote.get(path), size, md5, sha):
            result.unchanged += 1
        else:
            pending.append((path, size, sha))

    def upload(item: tuple[str, int, str]) -> None:
        path, size, sha = item
        headers = headers_of(site, path)
        extra = {"ContentEncoding": headers["content-encoding"]} if "content-encoding" in headers else {}
        with open(site / path, "rb") as body:
            client.put_object(Bucket=bucket, Key=prefix + path, Body=body, ContentLength=size, ContentType=headers["content-type"],
                              CacheControl=headers["cache-control"], Metadata={SHA256_METADATA: sha}, **extra)
        progress.update(size)

    with tqdm(total=sum(size for _, size, _ in pending), unit="B", unit_scale=True, desc="publish",
              disable=not show_progress or dry_run) as progress, ThreadPoolExecutor(WORKERS) as pool:
        for stage in range(SERVICE_WORKER + 1):
            batch = [item for item in pending if upload_stage(item[0]) == stage]
            if stage == SERVICE_WORKER:  # one at a time: the copies, then sw.js itself
                batch = [[item] for item in batch]
            else:
                batch = [batch]
            for group in batch:
                if not dry_run:
                    list(pool.map(upload, group))  # a stage is complete before the next begins
                result.uploaded += [path for path, _, _ in group]
                result.bytes += sum(size for _, size, _ in group)
    if delete:
        _delete_stale(client, bucket, prefix, remote, set(paths), keep_hashed_days, dry_run, result)
    return result


def _delete_stale(client, bucket: str, prefix: str, remote: dict, present: set[str], keep_hashed_days: float, dry_run: bool,
                  result: Result) -> None:
    cutoff = datetime.now(UTC) - timedelta(days=keep_hashed_days)
    stale = []
    for path, item in sorted(remote.items()):
        if path in present:
            continue
        copy = compressed_copy(path)
        if IMMUTABLE.search(copy[0] if copy else path) and item["LastModified"] > cutoff:
            result.kept.append(path)
        else:
            stale.append(path)
    for start in range(0, len(stale), 1000):
        chunk = stale[start:start + 1000]
        if not dry_run:
            client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": prefix + path} for path in chunk], "Quiet": True})
        result.deleted += chunk


# Server configurations ------------------------------------------------------------------------

BASE_EXTENSIONS = ("html", "js", "css", "json", "webmanifest", "svg", "png", "jpg", "jpeg", "gif", "webp", "ico", "txt", "xml",
                   "woff2", "woff", "wasm", "pdf", "mp3", "mp4", "ogg", "webm")


def extensions(site: Path) -> list[str]:
    """The file extensions to give a Content-Type: the usual ones and every one in the bundle."""
    found = set(BASE_EXTENSIONS)
    for path in site.rglob("*.*"):
        name = path.name
        copy = compressed_copy(name)
        name = copy[0] if copy else name
        if path.is_file() and "." in name:
            found.add(name.rsplit(".", 1)[1])
    return sorted(ext for ext in found if ext.isalnum())


def nginx_config(site: Path, listen: str = "80") -> str:
    """A server block (and its maps) for nginx's http {} that serves the bundle as the hub does.
    nginx without the brotli module: a .br copy is chosen with try_files, and its Content-Type set
    per extension (the location's own `types`), since nginx would name it by `.br`."""
    site = Path(site).resolve()
    locations = []
    for ext in extensions(site):
        locations.append(f"""    location ~ \\.{ext}$ {{
        types {{ }}
        default_type "{media_type('file.' + ext)}";
        try_files $uri$satchel_br $uri =404;
        include_satchel_headers;
    }}""")
    headers = """add_header Cache-Control $satchel_cache_control;
        add_header Content-Encoding $satchel_br_sent;
        add_header Vary $satchel_vary;
        add_header X-Content-Type-Options nosniff;"""
    body = "\n".join(locations).replace("include_satchel_headers;", headers)
    return f"""# Serves the Satchel bundle {site} with the headers of `satchel hub` (docs/hub.md):
# printed by `satchel publish {site} --print-config nginx`. Put it in nginx's http {{}} block
# (for example /etc/nginx/conf.d/satchel.conf); print it again after a build adds a kind of file.

# A .br copy for a browser that accepts brotli (not one that rates it q=0); gzip_static does .gz.
map $http_accept_encoding $satchel_br {{
    default "";
    "~*(^|,)\\s*br\\s*;\\s*q\\s*=\\s*0(\\.0*)?\\s*(,|$)" "";
    "~*(^|,)\\s*br\\s*(;|,|$)" ".br";
}}
map $uri $satchel_br_sent {{
    default "";
    "~\\.br$" br;
}}
# builder/headers.py IMMUTABLE: named by version or content's hash; everything else revalidates.
map $satchel_path $satchel_cache_control {{
    default "{REVALIDATE_CACHE_CONTROL}";
    "~{IMMUTABLE.pattern}" "{IMMUTABLE_CACHE_CONTROL}";
}}

server {{
    listen {listen};
    root {site};
    gzip off;
    gzip_static on;
    gzip_vary off;  # Vary is set below, for every file that has a compressed copy
    etag on;

    rewrite ^(.*/)$ $1index.html;
    set $satchel_path $uri;
    set $satchel_vary "";
    if (-f $request_filename{ENCODINGS[0][1]}) {{
        set $satchel_vary Accept-Encoding;
    }}
    if (-f $request_filename{ENCODINGS[1][1]}) {{
        set $satchel_vary Accept-Encoding;
    }}

{body}
    location / {{
        try_files $uri $uri/ =404;
        {headers}
    }}
}}
"""


def caddy_config(site: Path, listen: str = ":80") -> str:
    """A Caddyfile that serves the bundle as the hub does: file_server's precompressed copies,
    Content-Type per extension and Cache-Control per path."""
    site = Path(site).resolve()
    types = "\n".join(f"    @type_{ext} path *.{ext}{' */' if ext == 'html' else ''}\n"
                      f"    header @type_{ext} Content-Type \"{media_type('file.' + ext)}\"" for ext in extensions(site))
    return f"""# Serves the Satchel bundle {site} with the headers of `satchel hub` (docs/hub.md):
# printed by `satchel publish {site} --print-config caddy`. Print it again after a build adds a kind of file.
{{
    admin off
}}

{listen} {{
    root * {site}
    # builder/headers.py IMMUTABLE: named by version or content's hash; everything else revalidates.
    @immutable path_regexp `{IMMUTABLE.pattern}`
    header @immutable Cache-Control "{IMMUTABLE_CACHE_CONTROL}"
    @revalidated not path_regexp `{IMMUTABLE.pattern}`
    header @revalidated Cache-Control "{REVALIDATE_CACHE_CONTROL}"
    header X-Content-Type-Options nosniff
{types}
    file_server {{
        precompressed {" ".join("gzip" if name == "gzip" else name for name, _ in ENCODINGS)}
    }}
}}
"""
