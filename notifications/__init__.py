"""Delivering messages to contact points (providers come with paging)."""
