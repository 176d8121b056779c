"""The ledger application: every use case of Kemitraan Ledger, one class.

Every use case takes the caller (`Principal`) and the instant (`now`) from outside, checks the
role, then the scope (404 outside it), then the optional `If-Match` version, then lets the
aggregate decide, and saves once. The use cases are grouped in `domain/use_cases/`.
"""

from __future__ import annotations

from domain.ledger_base import Written
from domain.use_cases.businesses import BusinessUseCases
from domain.use_cases.imports import ImportUseCases
from domain.use_cases.lifecycle import LifecycleUseCases
from domain.use_cases.regulations import RegulationUseCases
from domain.use_cases.tokens import TokenUseCases

__all__ = ["Ledger", "Written"]


class Ledger(ImportUseCases, LifecycleUseCases, BusinessUseCases, RegulationUseCases,
             TokenUseCases):
    # The name is part of the storage layout: PostgreSQL tables are `kemitraanledger_*`.
    name = "KemitraanLedger"
