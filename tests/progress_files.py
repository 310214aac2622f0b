"""Progress files made in Python, shaped as the app makes them (theme/assets/satchel/progress-model.js);
tests/test_progress_model.py checks that the app accepts them."""

from __future__ import annotations

import base64
import json
import secrets
import uuid

ADL = "http://adlnet.gov/expapi/verbs/"
LESSONS = ["mathematics/fractions/what-is-a-fraction", "mathematics/fractions/halves-and-quarters", "science/water-cycle/where-is-water"]


def statement(curriculum: str, learner: str, verb: str, lesson: str, n: int, **result) -> dict:
    home = f"urn:satchel:{curriculum}"
    s = {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "account": {"homePage": home, "name": learner}},
        "verb": {"id": ADL + verb, "display": {"en": verb}},
        "object": {"objectType": "Activity", "id": f"{home}:lesson:{lesson}", "definition": {"type": "http://adlnet.gov/expapi/activities/lesson"}},
        "context": {"platform": "Satchel", "language": "en", "contextActivities": {"grouping": [{"objectType": "Activity", "id": home}]}},
        "timestamp": f"2026-11-{1 + n // 86400 % 28:02d}T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}.000Z",
        "version": "2.0.0",
    }
    if result:
        s["result"] = result
    return s


def progress_file(statements: int = 50, curriculum: str = "satchel-demo", name: str = "Amina", learner: str | None = None) -> dict:
    learner = learner or str(uuid.uuid4())
    verbs = [("launched", {}), ("experienced", {"duration": "PT120S"}), ("completed", {"completion": True})]
    made = [statement(curriculum, learner, verbs[n % 3][0], LESSONS[n % len(LESSONS)], n, **verbs[n % 3][1]) for n in range(statements)]
    return {"format": "satchel-progress", "version": 1, "curriculum": {"id": curriculum, "version": "1.0.0"},
            "exported": "2026-11-23T10:00:00.000Z", "profile": {"id": learner, "name": name, "colour": "#1565c0", "picture": "🦒"},
            "statements": made}


class Learner:
    """A learner's device, as the app makes one (hub/identity.py): a P-256 key, the learner id
    derived from it, statement ids bound to it, and files signed by it."""

    def __init__(self, name: str = "Amina", learner: str | None = None):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from satchel.hub import identity
        self.private = ec.generate_private_key(ec.SECP256R1())
        raw = self.private.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        self.key = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        self.id = learner or identity.learner_id(self.key)
        self.name = name

    def statement_id(self) -> str:
        from satchel.hub import identity
        nonce = secrets.token_hex(8)[:15]
        tag = identity.statement_tag(self.key, nonce)
        hex32 = nonce[:12] + "8" + nonce[12:15] + "8" + tag
        return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:]}"

    def file(self, statements: int = 50, curriculum: str = "satchel-demo") -> dict:
        """An unsigned progress file of this learner, with ids bound to their key."""
        data = progress_file(statements, curriculum, self.name, self.id)
        for s in data["statements"]:
            s["id"] = self.statement_id()
        data["version"] = 2
        data["profile"]["key"] = self.key
        return data

    def sign(self, data: dict) -> bytes:
        """The file's text as the app writes it: JSON, then the signature as its last member."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
        text = json.dumps({k: v for k, v in data.items() if k != "signature"}, ensure_ascii=False, separators=(",", ":")).encode()
        r, s = decode_dss_signature(self.private.sign(text, ec.ECDSA(hashes.SHA256())))
        signature = base64.urlsafe_b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).rstrip(b"=").decode()
        return text[:-1] + f',"signature":"{signature}"}}'.encode()


def signed(learner: Learner, statements: list[dict]) -> bytes:
    """A file of `learner` holding these statements (each given an id bound to their key), signed."""
    data = learner.file(0)
    for s in statements:
        s["id"] = learner.statement_id()
    data["statements"] = statements
    return learner.sign(data)
