"""Who may do what: accounts, sessions, roles and their regions, API keys, the audit log.

Imported by ``api`` only. Domain packages never see a user: they receive an actor
string (``Principal.actor``) and record it in events and the audit log.
"""
