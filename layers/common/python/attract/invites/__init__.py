"""Email invitations: campaigns read candidates from the employer's own data (sources), plan, send at most once."""
