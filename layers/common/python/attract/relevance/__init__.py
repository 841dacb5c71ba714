"""Relevance (issue 14): skills and places resolved with open data (ESCO, GeoNames), members scored against target profiles."""
