"""The OpenAPI 3.1 description of the hub's API, built from the progress file's JSON Schema
(docs/progress.schema.json) so the two cannot drift. The hub serves it at /api/openapi.json;
docs/hub-openapi.json is a copy that a test keeps equal."""

from __future__ import annotations

import json

from .intake import BATCH_FORMAT, BATCH_VERSION, MAX_BATCH_FILES, MAX_ENROLMENT
from .progress import SCHEMA_PATH

ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}


def _refs_to_components(value):
    if isinstance(value, dict):
        return {k: (v.replace("#/$defs/", "#/components/schemas/") if k == "$ref" else _refs_to_components(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_refs_to_components(v) for v in value]
    return value


def openapi(max_upload: int) -> dict:
    progress = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    defs = progress.pop("$defs")
    for key in ("$schema", "$id"):
        progress.pop(key)
    schemas = {"ProgressFile": _refs_to_components(progress), **_refs_to_components(defs), "Error": ERROR}

    def answer(description: str) -> dict:
        return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}

    push_errors = {
        "400": answer("Not JSON."),
        "404": answer("This hub sends no notifications (no push keys)."),
        "413": answer("Bigger than 4096 bytes."),
        "415": answer("Not sent as application/json."),
        "422": answer("Not a valid subscription: an endpoint that is not https on port 443 under a public DNS name (no "
                      "loopback, private, link-local or own address), keys that are not a P-256 key and a 16-byte secret, or a "
                      "curriculum or language the hub does not serve."),
        "507": answer("The hub holds as many subscriptions for this curriculum as it takes (satchel hub push-keys --max-subscriptions)."),
        "429": answer("More than 10 requests a minute from one address."),
    }
    schemas["PushRequest"] = {
        "type": "object", "required": ["curriculum", "language", "subscription"],
        "properties": {"curriculum": {"type": "string"}, "language": {"type": "string"}, "subscription": {
            "type": "object", "required": ["endpoint", "keys"],
            "properties": {"endpoint": {"type": "string", "maxLength": 2048}, "expirationTime": {"type": ["number", "null"]},
                           "keys": {"type": "object", "required": ["p256dh", "auth"],
                                    "properties": {"p256dh": {"type": "string"}, "auth": {"type": "string"}}}}}}}
    # Many learners' files in one body, as a school hub forwards them (hub/intake.py, docs/hub.md).
    schemas["ProgressBatch"] = {
        "type": "object", "required": ["format", "version", "files"], "additionalProperties": False,
        "properties": {"format": {"const": BATCH_FORMAT}, "version": {"const": BATCH_VERSION},
                       # each a ProgressFile, checked and answered on its own (a bad one is refused alone: 207)
                       "files": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH_FILES, "items": {"type": "object"},
                                 "description": "Progress files (ProgressFile), each checked, stored and answered as if it "
                                                "came alone: one that is not valid is refused in the answer, not the batch."}}}
    schemas["BatchAnswer"] = {
        "type": "object", "required": ["files", "new", "known", "refused"],
        "properties": {"files": {"type": "array", "items": {"type": "object", "required": ["status"],
                                                            "properties": {"status": {"type": "integer"}}}},
                       "new": {"type": "integer", "minimum": 0}, "known": {"type": "integer", "minimum": 0},
                       "refused": {"type": "array", "items": {"type": "integer", "minimum": 0}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Satchel hub", "version": "1",
                 "description": "A school hub: receives learners' progress files (docs/progress.md) and devices' push "
                                "subscriptions. Documented in docs/hub.md."},
        "paths": {
            "/api/progress": {"post": {
                "summary": "Store a progress file; each statement once, by id. Signed files (format 2) bind the learner to "
                           "their device's key (docs/security.md). A central hub takes files only with a school hub's "
                           "credentials (HTTP Basic: school id and token).",
                "parameters": [{"name": "satchel-enrolment", "in": "header", "required": False, "schema": {"type": "string", "maxLength": MAX_ENROLMENT},
                                "description": "A class code from the teacher's dashboard: lets this device's key sign for the learner."}],
                "security": [{}, {"school": []}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"anyOf": [
                    {"$ref": "#/components/schemas/ProgressFile"}, {"$ref": "#/components/schemas/ProgressBatch"}]}}}},
                "responses": {
                    "200": {"description": "Stored (after commit); for a batch, every file was.", "content": {"application/json": {"schema": {
                        "anyOf": [{"type": "object", "required": ["new", "known"], "additionalProperties": False,
                                   "properties": {"new": {"type": "integer", "minimum": 0}, "known": {"type": "integer", "minimum": 0}}},
                                  {"$ref": "#/components/schemas/BatchAnswer"}]}}}},
                    "207": {"description": "A batch some of whose files were refused: each file's own answer, in order; the "
                                           "others were stored.",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchAnswer"}}}},
                    "400": answer("Not JSON: bad syntax or UTF-8, nesting too deep, a number too long, NaN."),
                    "413": answer(f"Bigger than the hub's limit ({max_upload:,} bytes by default)."),
                    "415": answer("Not sent as application/json."),
                    "401": answer("Not signed though the learner's files are, or (at a central) no valid school hub credentials."),
                    "403": answer("Signed by a key that is not this learner's (a class code lets a new device in), or an unsigned "
                                  "file for a learner whose files are signed."),
                    "409": {"description": "Some statement ids are held with other content or for another learner: those are kept "
                                           "aside for the teacher, the rest is stored.",
                            "content": {"application/json": {"schema": {
                                "type": "object", "required": ["error", "new", "known", "conflicts"],
                                "properties": {"error": {"type": "string"}, "new": {"type": "integer", "minimum": 0},
                                               "known": {"type": "integer", "minimum": 0},
                                               "conflicts": {"type": "array", "items": {"type": "string"}}}}}}},
                    "422": answer("Not a valid progress file (dates, durations, nesting, signature, statements made on another "
                                  "learner's device), or for a curriculum this hub does not serve."),
                    "429": answer("More statements for one learner on one day than anyone makes."),
                    "503": answer("The database could not store it now; nothing was stored: try again."),
                    "507": answer("The hub's disk is full; nothing was stored."),
                }}},
            "/api/push/key": {"get": {
                "summary": "The hub's VAPID public key (base64url), for PushManager.subscribe.",
                "responses": {"200": {"description": "The key.", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["publicKey"], "properties": {"publicKey": {"type": "string"}}}}}},
                              "404": answer("This hub sends no notifications (no push keys).")}}},
            "/api/push/subscriptions": {
                "post": {
                    "summary": "Keep a device's push subscription, to tell it when new lessons arrive.",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PushRequest"}}}},
                    "responses": {"201": {"description": "Kept.", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["ok"], "properties": {"ok": {"const": True}}}}}}, **push_errors}},
                "delete": {
                    "summary": "Forget a device's push subscription.",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["endpoint"], "properties": {"endpoint": {"type": "string"}}}}}},
                    "responses": {"200": {"description": "Forgotten (removed: whether the hub had it).", "content": {"application/json": {
                        "schema": {"type": "object", "required": ["removed"], "properties": {"removed": {"type": "boolean"}}}}}}, **push_errors}},
            },
            "/_hub/health": {"get": {
                "summary": "For monitoring (no sign-in, no learner data): the database reachable, the bundles served with "
                           "their versions, free disk and the certificate's days left (null: none).",
                "responses": {code: {"description": what, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["ok", "version", "database", "bundles", "free_disk_bytes", "certificate_days_left"],
                    "properties": {"ok": {"type": "boolean"}, "version": {"type": "string"}, "database": {"type": "boolean"},
                                   "bundles": {"type": "array", "items": {"type": "object", "required": ["curriculum", "version"],
                                                                          "properties": {"curriculum": {"type": "string"},
                                                                                         "version": {"type": ["string", "null"]}}}},
                                   "free_disk_bytes": {"type": "integer", "minimum": 0},
                                   "certificate_days_left": {"type": ["integer", "null"]}}}}}}
                    for code, what in (("200", "Working."), ("503", "The database cannot be reached."))}}},
            "/api/health": {"get": {
                "summary": "The hub is up, and the curricula it serves.",
                "responses": {"200": {"description": "Up.", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["ok", "curricula"],
                    "properties": {"ok": {"const": True}, "curricula": {"type": "array", "items": {"type": "string"}}}}}}}}}},
        },
        "components": {"schemas": schemas, "securitySchemes": {"school": {"type": "http", "scheme": "basic",
                                                                           "description": "A school hub's id and token (satchel hub schools add)."}}},
    }
