"""Incidents from the police feed, the pairing engine and the dispatch record."""
