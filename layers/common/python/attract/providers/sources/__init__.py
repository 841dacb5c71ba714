"""Invitation source adapters (attract.invites.sources.open_source imports the one a spec names)."""
