"""The read side: views folded from the event log into SQLAlchemy tables."""
