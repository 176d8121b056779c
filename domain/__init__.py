"""The write side of Kemitraan Ledger: aggregates, events, value objects, rules and use cases.

Imports only the standard library and `eventsourcing` (enforced by import-linter in the tests).
"""
