"""Joining the talent community: members, consent, and the attribution of each join."""
