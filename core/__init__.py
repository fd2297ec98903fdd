"""Small shared kernel: settings, database, clock and time helpers."""
