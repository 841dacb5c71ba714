"""Multi-touch attribution: how much of each join each touch earned, and the aggregates reports read."""
