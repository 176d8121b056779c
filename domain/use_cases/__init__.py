"""The use cases of the ledger, grouped by what they act on."""
