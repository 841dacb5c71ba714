"""Search and social ad campaigns (issue 8)."""
