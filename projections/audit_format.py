"""The audit log's byte formats: leaf bytes (ADR 0013), the readable form of a stored record, and
checkpoints as C2SP signed notes (ADR 0014).

Shared by the server and the offline verifier, so it imports no database code: only the standard
library, `rfc8785` (RFC 8785 canonical JSON) and `cryptography` (Ed25519).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from typing import Any
from uuid import UUID

import rfc8785

LEAF_FORMAT = 1


def stream_id_text(originator_id: Any) -> str:
    """The canonical text of a stream id (SQLite stores hex, PostgreSQL a uuid)."""
    return str(originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id)))


def leaf_fields(seq: int, stream_id: str, version: int, topic: str,
                record_sha256: str) -> dict[str, Any]:
    return {"v": LEAF_FORMAT, "seq": int(seq), "stream_id": stream_id, "version": int(version),
            "topic": topic, "record_sha256": record_sha256}


_SAFE_INT = 2**53 - 1


def leaf_bytes(seq: int, stream_id: str, version: int, topic: str, record_sha256: str) -> bytes:
    """RFC 8785 canonical JSON of the leaf's named fields (ADR 0013).

    For these fields (ASCII keys, integers within ±(2^53 - 1), strings) the keys' sorted order is
    fixed, and a string needs escaping only for `"`, `\\` and control characters: a stream id
    and a record hash (a UUID and hex, as the view writes them) are then written as they are,
    and the topic as Python's compact `json.dumps` without ASCII escaping writes it, which is
    RFC 8785's string form. Anything else goes through `rfc8785` itself (tests check the two
    agree for any values)."""
    if (type(seq) is int and type(version) is int and -_SAFE_INT <= seq <= _SAFE_INT
            and -_SAFE_INT <= version <= _SAFE_INT and type(stream_id) is str
            and type(record_sha256) is str and type(topic) is str
            and _PLAIN.fullmatch(stream_id) and _PLAIN.fullmatch(record_sha256)):
        quoted = _quoted_topic(topic)
        if quoted is not None:
            return (f'{{"record_sha256":"{record_sha256}","seq":{seq},"stream_id":"{stream_id}",'
                    f'"topic":{quoted},"v":{LEAF_FORMAT},"version":{version}}}').encode("utf-8")
    return rfc8785.dumps(leaf_fields(seq, stream_id, version, topic, record_sha256))


# Printable ASCII but the quote and the backslash: written into JSON as it is.
_PLAIN = re.compile(r'[ !#-\[\]-~]*')


@functools.lru_cache(maxsize=1024)
def _quoted_topic(topic: str) -> str | None:
    """The topic as an RFC 8785 JSON string, or None when it holds a lone surrogate (which
    RFC 8785 refuses: `rfc8785` then raises). Topics repeat: a few dozen event types."""
    quoted = json.dumps(topic, ensure_ascii=False)
    try:
        quoted.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return quoted


def record_sha256(state: bytes) -> str:
    return hashlib.sha256(state).hexdigest()


# ---- the readable form of a stored record ------------------------------------------------------

_ENVELOPE = {"timestamp", "originator_topic", "actor_id", "actor_role", "originator_id",
             "originator_version"}


def _plain(d: dict[str, Any]) -> Any:
    """The library's JSON transcoder writes non-JSON values as {"_type_", "_data_"}: keep the
    data (a json `object_hook`, so it runs once per object, innermost first)."""
    if len(d) == 2 and "_type_" in d and "_data_" in d:
        return d["_data_"]
    return d


def event_type(topic: str) -> str:
    return topic.removeprefix("kemitraan.")


def record_display(topic: str, state: bytes) -> dict[str, Any] | None:
    """{type, recorded_at, actor, data} read from the stored bytes, or None when they are not
    plain JSON (an encrypted or compressed store): then only their hash can be checked."""
    try:
        state_ = json.loads(bytes(state).decode("utf-8"), object_hook=_plain)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(state_, dict):
        return None
    return {"type": event_type(topic), "recorded_at": state_.get("timestamp"),
            "actor": {"principal_id": state_.get("actor_id"), "role": state_.get("actor_role")},
            "data": {k: v for k, v in state_.items() if k not in _ENVELOPE}}


# ---- checkpoints: C2SP tlog checkpoints in C2SP signed notes -------------------------------------

def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def checkpoint_body(origin: str, tree_size: int, root: bytes) -> str:
    return f"{origin}\n{tree_size}\n{b64(root)}\n"


def key_hash(name: str, public_key: bytes) -> bytes:
    """C2SP signed-note key ID: SHA-256(name || 0x0A || 0x01 (Ed25519) || public key)[:4]."""
    return hashlib.sha256(name.encode("utf-8") + b"\n\x01" + public_key).digest()[:4]


def key_id(name: str, public_key: bytes) -> str:
    return key_hash(name, public_key).hex()


def signed_note(body: str, name: str, public_key: bytes, signature: bytes) -> str:
    return f"{body}\n\u2014 {name} {b64(key_hash(name, public_key) + signature)}\n"


def verifier_key(name: str, public_key: bytes) -> str:
    """The C2SP verifier key string (`name+hash+base64(0x01||key)`), for other tools."""
    encoded = b64(bytes([1]) + public_key)
    return f"{name}+{key_hash(name, public_key).hex()}+{encoded}"


def check_checkpoint(cp: dict[str, Any], keys: dict[str, dict[str, Any]]) -> str | None:
    """Why a checkpoint (as the API answers it) is not genuine, or None when it is.

    `keys`: {key_id: {"name", "public_key" (base64)}} from /v1/audit/keys or a bundle."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        size = int(cp["tree_size"])
        root = bytes.fromhex(cp["root_hash"])
        key = keys.get(cp["key_id"])
        if key is None:
            return f"checkpoint {size}: unknown key {cp['key_id']}"
        public = base64.b64decode(key["public_key"], validate=True)
        name = key.get("name") or cp["origin"]
        if key_id(name, public) != cp["key_id"]:
            return f"checkpoint {size}: key {cp['key_id']} does not match its public key"
        body = checkpoint_body(cp["origin"], size, root)
        signature = base64.b64decode(cp["signature"], validate=True)
        Ed25519PublicKey.from_public_bytes(public).verify(signature, body.encode("utf-8"))
        if cp.get("note") is not None and cp["note"] != signed_note(body, name, public,
                                                                     signature):
            return f"checkpoint {size}: the signed note does not match the checkpoint"
    except InvalidSignature:
        return f"checkpoint {cp.get('tree_size')}: bad signature"
    except (KeyError, TypeError, ValueError) as e:
        return f"checkpoint {cp.get('tree_size')}: malformed ({type(e).__name__}: {e})"
    return None
