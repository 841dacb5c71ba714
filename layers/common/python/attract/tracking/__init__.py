"""Touches: every recorded contact between a visitor (or a known email) and a campaign."""
