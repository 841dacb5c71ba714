"""Tracked links: short codes that carry attribution dimensions to a destination URL."""
