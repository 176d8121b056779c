"""Configuration, read once from the environment (or a `.env` file), prefix `KEMITRAAN_`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KEMITRAAN_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("./var"), description="Where the SQLite file and "
                           "evidence files live.")
    database_url: str | None = Field(default=None, description="Default: a SQLite file in the "
                                     "data dir; postgresql+psycopg://... for PostgreSQL.")
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    command_cache_size: int | None = Field(
        default=None, ge=0, description="Aggregates kept for the next command (0 = off). Default:"
        " 10000; on PostgreSQL a server pauses it while another server writes the same database.")
    projections: Literal["run", "follow"] = Field(
        default="run", description="run: `kemitraan serve` folds the views in a background "
        "thread; follow: it only reads them, and `kemitraan project` (beside it) folds them.")
    projection_page: int | None = Field(
        default=None, ge=1, le=100_000, description="Events per projection page (one "
        "transaction). Default: 1000 on SQLite, 4000 on PostgreSQL (ADR 0011).")
    projection_linger: float | None = Field(
        default=None, ge=0, le=10, description="Seconds: under a stream of writes the runner "
        "folds at most once per linger, so that a page holds every event recorded meanwhile; "
        "a read without min_position may see the views this much older. Default: 0.2 "
        "(ADR 0011).")
    stats_max_age: float = Field(
        default=180.0, ge=0, le=86_400, description="Seconds: once a write touched a quarter or "
        "year, its pre-aggregated funnel may still answer for this long after it was computed, "
        "giving its own as_of and position (never below a request's min_position); then the "
        "live scan answers. 0: only up-to-date cells answer (ADR 0019).")
    log_format: Literal["json", "console"] | None = Field(
        default=None, description="json or console; default: console on a terminal, json "
                                  "otherwise.")

    audit_key_path: Path | None = Field(default=None, description="The Ed25519 key that signs "
                                        "audit checkpoints (PEM); default: created in the data dir.")
    audit_origin: str = Field(default="kemitraan-ledger", min_length=1, max_length=200,
                              pattern=r"^[^\s+]+$", description="The checkpoints' origin line "
                              "and key name.")
    audit_checkpoint_events: int = Field(default=1000, ge=1, description="Sign a checkpoint "
                                         "once the log grew by this many events...")
    audit_checkpoint_seconds: float = Field(default=30.0, gt=0, description="... or grew at "
                                            "all and the last checkpoint is this old.")

    @property
    def audit_key_file(self) -> Path:
        return self.audit_key_path or self.data_dir / "audit" / "checkpoint-ed25519.pem"

    @property
    def evidence_dir(self) -> Path:
        return self.data_dir / "evidence"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "kemitraan.db"
