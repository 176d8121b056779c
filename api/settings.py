"""Configuration, read once from the environment (or a `.env` file), prefix `KEMITRAAN_`."""

from __future__ import annotations

from pathlib import Path

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
        " 10000 on the embedded SQLite store, 0 on PostgreSQL (several processes may write).")
    log_format: str | None = Field(default=None, description="json or console; default: "
                                   "console on a terminal, json otherwise.")

    @property
    def evidence_dir(self) -> Path:
        return self.data_dir / "evidence"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "kemitraan.db"
