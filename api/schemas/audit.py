"""Wire models of the audit log (contract: Audit). Hashes are lowercase hex, keys and signatures
base64."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from api.schemas.common import Instant
from api.schemas.partnerships import ActorRead


class AuditEvent(BaseModel):
    seq: int
    leaf_index: int
    stream_id: str
    version: int
    type: str
    topic: str = Field(description="the stored topic, one of the leaf's fields (ADR 0013)")
    recorded_at: Instant | None
    actor: ActorRead | None
    data: dict[str, Any] | None = Field(description="null when the stored record is not plain "
                                                    "JSON (encrypted); its hash still counts")
    leaf_hash: str
    record_sha256: str = Field(description="SHA-256 of the stored record's bytes (ADR 0013)")


class AuditEventPage(BaseModel):
    items: list[AuditEvent]
    next_after: int | None
    position: int


class AuditKey(BaseModel):
    key_id: str
    algorithm: Literal["ed25519"] = "ed25519"
    name: str = Field(description="the key name in the signed notes (the origin)")
    public_key: str = Field(description="base64 of the raw 32-byte Ed25519 public key")
    valid_from: Instant
    valid_to: Instant | None


class Checkpoint(BaseModel):
    origin: str
    tree_size: int
    root_hash: str
    issued_at: Instant
    key_id: str
    signature: str = Field(description="base64 Ed25519 signature over exactly the checkpoint "
                                       "body \"<origin>\\n<tree_size>\\n<base64 root>\\n\"")
    note: str = Field(description="C2SP signed note: the body, a blank line, the signature line")


class InclusionProof(BaseModel):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str]


class ConsistencyProof(BaseModel):
    first: int
    second: int
    proof: list[str]
