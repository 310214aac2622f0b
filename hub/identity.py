"""Learner identity without accounts or a network (docs/security.md): each learner profile has a
P-256 key pair made on the device (WebCrypto; the private key never leaves it), and

- a progress file is signed by it: the file's JSON text ends with `,"signature":"<86 chars>"}`,
  and the signature (ECDSA P-256 with SHA-256, r||s, base64url) is over the same text with that
  member taken out, byte for byte: no canonical JSON to agree on;
- a learner made with a key has an id derived from it (a version-8 UUID from the key's hash), so
  nobody can claim that id with another key;
- every statement id made with a key is bound to it (version 8: 60 random bits, then 60 bits of
  the hash of the key and those bits), so a statement copied into someone else's file, re-signed
  by them, is recognised as not theirs.

Ids made before keys existed (version 4) are kept, as "unverified". The app's twin of this is
theme/assets/satchel/progress-identity.js."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

SIGNATURE_MEMBER = re.compile(rb',"signature":"([A-Za-z0-9_-]{86})"\}\s*\Z')


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _uuid8(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:32]}"


def learner_id(key: str) -> str:
    """The id of a learner made with `key` (base64url of the raw public key)."""
    digest = hashlib.sha256(f"satchel:learner:{key}".encode()).hexdigest()
    return _uuid8(digest[:12] + "8" + digest[12:15] + "8" + digest[15:30])


def statement_tag(key: str, nonce: str) -> str:
    return hashlib.sha256(f"satchel:statement:{key}:{nonce}".encode()).hexdigest()[:15]


def is_bound(statement_id: str, key: str) -> bool:
    """Whether a version-8 statement id was made with `key`."""
    hex32 = statement_id.replace("-", "")
    return hex32[12] == "8" and hex32[16] == "8" and statement_tag(key, hex32[:12] + hex32[13:16]) == hex32[17:]


def is_keyed(uuid: str) -> bool:
    """Version 8: made with a key (a learner id derived from one, or a statement id bound to one)."""
    return len(uuid) == 36 and uuid[14] == "8"


def signed_part(body: bytes) -> tuple[bytes, str] | None:
    """(the bytes the learner signed, the signature) of a signed file's text, or None if unsigned."""
    found = SIGNATURE_MEMBER.search(body)
    if found is None:
        return None
    return body[:found.start()] + b"}", found.group(1).decode()


def verify(key: str, signed: bytes, signature: str) -> bool:
    """Whether `signature` is the learner key's over `signed`."""
    try:
        raw = unb64url(signature)
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
        public.verify(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")), signed,
                      ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True
