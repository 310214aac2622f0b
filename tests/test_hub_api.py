"""The hub's API against its OpenAPI document, with schemathesis: generated requests (valid and
invalid) never get a 5xx, and every answer matches what the document says. Also: the document in
docs/ is the one the hub serves."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from satchel.hub.app import DEFAULT_MAX_UPLOAD
from satchel.hub.openapi import openapi

from tests.progress_files import Learner
from tests.test_hub import Hub
from tests.test_progress_model import paths

# Generated requests per endpoint and mode (9 of them). SATCHEL_FUZZ_EXAMPLES=1100 gives the
# 10,000 requests of docs/security.md's figure; the suite's default keeps CI short.
EXAMPLES = int(os.environ.get("SATCHEL_FUZZ_EXAMPLES", "150"))


@pytest.fixture(scope="module")
def api_hub(demo_site, tmp_path_factory):
    data = tmp_path_factory.mktemp("api") / "data"
    for command in (["init"], ["push-keys", "--contact", "mailto:hub@school.example.org"]):
        subprocess.run([sys.executable, "-m", "satchel.builder.cli", "hub", *command, "--data", str(data)], check=True, capture_output=True)
    running = Hub([demo_site], data)
    yield running
    running.stop()


@pytest.mark.parametrize("path, method, mode", [
    ("/api/progress", "POST", "positive"), ("/api/progress", "POST", "negative"),
    ("/api/health", "GET", "positive"), ("/api/push/key", "GET", "positive"),  # a GET without parameters has no invalid form
    ("/api/push/subscriptions", "POST", "positive"), ("/api/push/subscriptions", "POST", "negative"),
    ("/api/push/subscriptions", "DELETE", "positive"), ("/api/push/subscriptions", "DELETE", "negative")])
def test_the_api_answers_as_documented(api_hub, path, method, mode):
    """Schemathesis makes requests from the document: in 'positive' mode bodies that the schema
    accepts, in 'negative' mode bodies it refuses. Its checks (no 5xx, documented status codes,
    content types and response bodies) run on every answer. (Schemathesis's pytest plugin does not
    load under pytest 9, so its strategies run under plain hypothesis here.)"""
    from schemathesis.generation import GenerationMode
    from schemathesis.specs.openapi.checks import positive_data_acceptance
    schema = schemathesis.openapi.from_url(api_hub.url + "api/openapi.json")
    strategy = schema[path][method].as_strategy(GenerationMode(mode))

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case):
        # A schema-valid file may still be refused with a 422, as documented: the schema cannot say
        # which curricula a hub serves, nor that every statement is the file's learner's.
        case.call_and_validate(base_url=api_hub.url.rstrip("/"), excluded_checks=[positive_data_acceptance])

    check()
    assert api_hub.request("api/health")[0] == 200


def test_the_published_document_is_the_served_one(api_hub):
    from pathlib import Path
    published = json.loads((Path(__file__).parent.parent / "docs" / "hub-openapi.json").read_text(encoding="utf-8"))
    assert published == openapi(DEFAULT_MAX_UPLOAD) == json.loads(api_hub.request("api/openapi.json")[2]), \
        "docs/hub-openapi.json is stale: regenerate it (see docs/hub.md)"


json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=30),
                           lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
                           max_leaves=12)


def test_signed_uploads_damaged_anywhere_never_get_a_5xx(api_hub):
    """Signed files (which schemathesis cannot make) with any part replaced by any JSON value, then
    signed again, or sent with the old signature: always a documented answer, never a 5xx."""
    learners = [Learner(f"Learner {n}") for n in range(3)]
    documented = {int(code) for code in openapi(DEFAULT_MAX_UPLOAD)["paths"]["/api/progress"]["post"]["responses"]}

    @given(data=st.data())
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    def check(data):
        learner = data.draw(st.sampled_from(learners))
        file = learner.file(data.draw(st.integers(0, 5)))
        path = data.draw(st.sampled_from([p for p in paths(file) if p]))
        target = file
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = data.draw(json_values)
        body = learner.sign(file) if data.draw(st.booleans()) else learner.sign(learner.file(1))[:-1] + b',"x":1}'
        status, _, _ = api_hub.request("api/progress", body, {"content-type": "application/json"})
        assert status < 500 and status in documented, (status, path)

    check()
    assert api_hub.request("api/health")[0] == 200
