"""`satchel hub sync` forwards what a hub received to a real xAPI LRS (Ralph, on loopback) and to a
central Satchel hub: at least once, never twice, and it goes on where it stopped after a failure."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import urllib.parse
import urllib.request

from hub.store import Store
from tests.progress_files import progress_file
from tests.test_hub import Hub


def sync(data, upstream: str, *extra: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "builder.cli", "hub", "sync", "--data", str(data), "--upstream", upstream, *extra],
                          capture_output=True, text=True, env=env)


def lrs_ids(url: str, user: str, password: str) -> list[str]:
    """Every statement id the LRS holds, following its 'more' links."""
    ids, next_url = [], url + "?limit=500"
    auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    while next_url:
        request = urllib.request.Request(next_url, headers={"authorization": auth, "x-experience-api-version": "2.0.0"})
        with urllib.request.urlopen(request, timeout=30) as response:
            page = json.loads(response.read())
        ids += [s["id"] for s in page["statements"]]
        more = page.get("more")
        next_url = urllib.parse.urljoin(url, more) if more else None
    return ids


def test_forwarding_to_an_lrs(demo_site, tmp_path, ralph_lrs):
    import os
    url, user, password = ralph_lrs
    hub = Hub([demo_site], tmp_path / "data")
    files = [progress_file(150, name=f"Learner {n}") for n in range(2)]
    for upload in files:
        assert hub.upload(upload)[0] == 200
    hub.stop()
    secret = tmp_path / "password"
    secret.write_text(password + "\n", encoding="utf-8")
    before = set(lrs_ids(url, user, password))
    expected = {s["id"] for f in files for s in f["statements"]}

    down = url.replace(url.split("/")[2], "127.0.0.1:9")  # nothing listens there
    result = sync(hub.data, down, "--user", user, "--password-file", str(secret))
    assert result.returncode == 1 and "cannot be reached" in result.stderr and "Run it again" in result.stderr

    result = sync(hub.data, url, "--user", user, "--password-file", str(secret))
    assert result.returncode == 0 and "Forwarded 300 statements" in result.stdout, result.stderr
    held = lrs_ids(url, user, password)
    assert set(held) - before == expected and len(held) == len(set(held))

    assert "Nothing new to forward" in sync(hub.data, url, "--user", user, "--password-file", str(secret)).stdout
    # A crash after the LRS stored a batch but before the hub marked it: it is sent again, and kept once.
    store = Store.in_data_dir(hub.data)
    store.db.execute("UPDATE statements SET forwarded = NULL WHERE id IN (SELECT id FROM statements LIMIT 40)")
    store.close()
    result = sync(hub.data, url, "--user", user, env=dict(os.environ, SATCHEL_UPSTREAM_PASSWORD=password))
    assert "Forwarded 40 statements" in result.stdout, result.stderr
    assert sorted(lrs_ids(url, user, password)) == sorted(held)

    result = sync(hub.data, url, "--user", user, "--password-file", str(secret))
    assert result.returncode == 0
    again = sync(hub.data, url, "--user", user)
    assert again.returncode == 0 and "Nothing new to forward" in again.stdout, "nothing left to send: the password is not even needed"


def test_forwarding_to_a_central_hub(demo_site, tmp_path):
    school = Hub([demo_site], tmp_path / "school")
    central = Hub([demo_site], tmp_path / "central")
    try:
        files = [progress_file(30, name=f"Learner {n}") for n in range(3)]
        for upload in files:
            assert school.upload(upload)[0] == 200
        result = sync(school.data, central.url + "api/progress")
        assert "Forwarded 90 statements" in result.stdout, result.stderr
        assert sorted(central.stored()) == sorted(school.stored())
        names = Store.in_data_dir(central.data).query("SELECT name FROM learners ORDER BY name")
        assert [n[0] for n in names] == ["Learner 0", "Learner 1", "Learner 2"]
        assert "Nothing new to forward" in sync(school.data, central.url + "api/progress").stdout
    finally:
        school.stop()
        central.stop()
