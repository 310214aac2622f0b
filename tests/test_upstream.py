"""`satchel hub sync` forwards what a hub received to a real xAPI LRS (Ralph, on loopback) and to a
central Satchel hub: at least once, never twice, and it goes on where it stopped after a failure;
what the upstream refuses is set aside and the rest goes on (tests/test_central.py has more)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import urllib.parse
import urllib.request

from satchel.hub.store import Store

from tests.progress_files import progress_file
from tests.test_hub import Hub


def sync(data, upstream: str, *extra: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "satchel.builder.cli", "hub", "sync", "--data", str(data), "--upstream", upstream, *extra],
                          capture_output=True, text=True, env=env)


def lrs_ids(url: str, user: str, password: str) -> list[str]:
    """Every statement id the LRS holds."""
    return [s["id"] for s in lrs_statements(url, user, password)]


def lrs_statements(url: str, user: str, password: str) -> list[dict]:
    """Every statement the LRS holds, following its 'more' links."""
    held, next_url = [], url + "?limit=500"
    auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    while next_url:
        request = urllib.request.Request(next_url, headers={"authorization": auth, "x-experience-api-version": "2.0.0"})
        with urllib.request.urlopen(request, timeout=30) as response:
            page = json.loads(response.read())
        held += page["statements"]
        more = page.get("more")
        next_url = urllib.parse.urljoin(url, more) if more else None
    return held


def test_forwarding_to_an_lrs(demo_site, tmp_path, ralph_lrs):
    import os

    import jsonschema
    from satchel.hub import xapi
    url, user, password = ralph_lrs
    hub = Hub([demo_site], tmp_path / "data")
    files = [progress_file(500, name=f"Learner {n}") for n in range(20)]
    # What the hub takes and xAPI 2.0 does not: an extension key must be an IRI.
    odd = files[7]["statements"][250]
    odd["context"]["extensions"] = {"score": 3}
    for upload in files:
        assert hub.upload(upload)[0] == 200
    hub.stop()
    secret = tmp_path / "password"
    secret.write_text(password + "\n", encoding="utf-8")
    before = set(lrs_ids(url, user, password))
    expected = {s["id"] for f in files for s in f["statements"]} - {odd["id"]}
    assert len(expected) == 9_999

    down = url.replace(url.split("/")[2], "127.0.0.1:9")  # nothing listens there
    result = sync(hub.data, down, "--user", user, "--password-file", str(secret))
    assert result.returncode == 1 and "cannot be reached" in result.stderr and "Run it again" in result.stderr

    result = sync(hub.data, url, "--user", user, "--password-file", str(secret))
    assert result.returncode == 0 and "Forwarded 9999 statements" in result.stdout, result.stderr
    # Set aside at once (in the run that could not reach the LRS): never sent, and said by --status.
    status = sync(hub.data, url, "--status").stdout
    assert "Forwarded: 9,999\nWaiting: 0\nQuarantined (refused by the upstream, set aside): 1\n" in status
    assert "1 x not an xAPI 2.0 statement: context/extensions" in status, status
    held = lrs_statements(url, user, password)
    assert {s["id"] for s in held} - before == expected and len(held) == len({s["id"] for s in held}), "every batch arrived, once"
    store = Store.in_data_dir(hub.data)
    assert store.query("SELECT id, status, reason FROM upstream_quarantine") == [
        (odd["id"], None, "not an xAPI 2.0 statement: context/extensions: \"score\" does not match \"^[A-Za-z][A-Za-z0-9+.-]*:[^\\s]+$\"")]
    store.close()
    # What the hub forwarded, as the LRS keeps it, checked again by another implementation of JSON Schema.
    checker = jsonschema.Draft202012Validator(xapi.schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    forwarded = [s for s in held if s["id"] in expected]
    assert [e.message for s in forwarded[:2000] for e in checker.iter_errors(s)] == []
    assert all(xapi.problem(s) is None for s in forwarded)
    hub_id = Store.in_data_dir(hub.data).meta("hub_id")
    assert {s["context"]["extensions"]["urn:satchel:hub"] for s in forwarded} == {hub_id}, \
        "each statement says which hub it came from (here: from devices at this hub)"

    assert "Nothing new to forward" in sync(hub.data, url, "--user", user, "--password-file", str(secret)).stdout
    # A crash after the LRS stored a batch but before the hub marked it: it is sent again, and kept
    # once (the same content: the same hub id in it, or the LRS would answer 409).
    store = Store.in_data_dir(hub.data)
    store.db.execute("UPDATE statements SET forwarded = NULL WHERE id IN (SELECT id FROM statements WHERE forwarded IS NOT NULL LIMIT 40)")
    store.close()
    result = sync(hub.data, url, "--user", user, env=dict(os.environ, SATCHEL_UPSTREAM_PASSWORD=password))
    assert "Forwarded 40 statements" in result.stdout, result.stderr
    assert sorted(lrs_ids(url, user, password)) == sorted(s["id"] for s in held)

    result = sync(hub.data, url, "--user", user, "--password-file", str(secret))
    assert result.returncode == 0
    again = sync(hub.data, url, "--user", user)
    assert again.returncode == 0 and "Nothing new to forward" in again.stdout, "nothing left to send: the password is not even needed"


def test_the_statement_rules_of_xapi_2():
    """The schema (hub/xapi-2.0-statement.schema.json) refuses what xAPI 2.0 refuses."""
    from satchel.hub import xapi
    good = progress_file(3)["statements"]
    assert [xapi.problem(s) for s in good] == [None, None, None]
    wrong = {
        "an id that is no UUID": {**good[0], "id": "1234"},
        "a timestamp with no time": {**good[0], "timestamp": "2026-11-01"},
        "an actor with two identifiers": {**good[0], "actor": {**good[0]["actor"], "mbox": "mailto:a@example.org"}},
        "an actor with none": {**good[0], "actor": {"objectType": "Agent", "name": "Amina"}},
        "a verb id that is no IRI": {**good[0], "verb": {"id": "launched"}},
        "a scaled score above 1": {**good[0], "result": {"score": {"scaled": 1.5}}},
        "a raw score above max": {**good[0], "result": {"score": {"raw": 11, "min": 0, "max": 10}}},
        "a duration that is not ISO 8601": {**good[0], "result": {"duration": "120s"}},
        "a property xAPI does not have": {**good[0], "grade": "A"},
        "a language map keyed by no language": {**good[0], "verb": {**good[0]["verb"], "display": {"english!": "launched"}}},
        "a version 1.0.3": {**good[0], "version": "1.0.3"},
        "a platform for a statement about an agent": {**good[0], "object": {"objectType": "Agent", "mbox": "mailto:a@example.org"}},
    }
    for what, statement in wrong.items():
        assert xapi.problem(statement), what
    assert xapi.problem({**good[0], "context": {**good[0]["context"], "contextAgents": [
        {"objectType": "contextAgent", "agent": {"mbox": "mailto:t@example.org"}, "relevantTypes": ["https://example.org/teacher"]}]}}) is None


def test_forwarding_to_a_central_hub(demo_site, tmp_path):
    school = Hub([demo_site], tmp_path / "school")
    central_data = tmp_path / "central"
    subprocess.run([sys.executable, "-m", "satchel.builder.cli", "hub", "init", "--data", str(central_data)], check=True, capture_output=True)
    issued = subprocess.run([sys.executable, "-m", "satchel.builder.cli", "hub", "schools", "add", "Lycée du Nord", "--data", str(central_data)],
                            capture_output=True, text=True, check=True).stdout
    school_id, token = re.search(r"School hub: (\S+)\nToken: (\S+)\n", issued).groups()
    secret = tmp_path / "token"
    secret.write_text(token + "\n", encoding="utf-8")
    central = Hub([demo_site], central_data)
    credentials = ("--user", school_id, "--password-file", str(secret))
    try:
        files = [progress_file(30, name=f"Learner {n}") for n in range(3)]
        for upload in files:
            assert school.upload(upload)[0] == 200
        refused = sync(school.data, central.url + "api/progress")
        assert refused.returncode == 1 and "answered 401" in refused.stderr and "satchel hub schools add" in refused.stderr
        result = sync(school.data, central.url + "api/progress", *credentials)
        assert "Forwarded 90 statements" in result.stdout, result.stderr
        assert sorted(central.stored()) == sorted(school.stored())
        central_store = Store.in_data_dir(central.data)
        names = central_store.query("SELECT name FROM learners ORDER BY name")
        assert [n[0] for n in names] == ["Learner 0", "Learner 1", "Learner 2"]
        assert central_store.query("SELECT source, COUNT(*) FROM statements GROUP BY source") == [(school_id, 90)]
        assert "Nothing new to forward" in sync(school.data, central.url + "api/progress", *credentials).stdout

        # The central holds an id with other content (a device that uploaded there too): its 409
        # names that statement; it alone is set aside, the rest of the file is stored.
        later = progress_file(20, name="Learner 3")
        clash = dict(later["statements"][5], timestamp="2020-01-01T00:00:00.000Z")
        first = dict(later, statements=[clash])
        status, _, _ = central.request("api/progress", json.dumps(first).encode(), {"content-type": "application/json",
                                       "authorization": "Basic " + base64.b64encode(f"{school_id}:{token}".encode()).decode()})
        assert status == 200
        assert school.upload(later)[0] == 200
        result = sync(school.data, central.url + "api/progress", *credentials)
        assert "Forwarded 19 statements" in result.stdout and "1 statement was refused by the upstream and set aside" in result.stdout, result
        assert Store.in_data_dir(school.data).query("SELECT id, status, reason FROM upstream_quarantine") == [
            (clash["id"], 409, "conflict at upstream")]
        assert len(central_store.query("SELECT id FROM statements")) == 90 + 1 + 19
        central_store.close()
    finally:
        school.stop()
        central.stop()


def test_what_is_left_to_forward_is_read_through_its_index(tmp_path):
    """Each batch reads the statements not yet forwarded through the partial index, never a scan of
    every statement forwarded before (which made forwarding everything quadratic)."""
    from satchel.hub.upstream import WAITING
    store = Store.init(tmp_path / "data")
    try:
        plan = " ".join(str(row[-1]) for row in store.query("EXPLAIN QUERY PLAN " + WAITING, 500))
    finally:
        store.close()
    assert "USING INDEX statements_waiting" in plan and "TEMP B-TREE" not in plan, plan
