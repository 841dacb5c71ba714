"""Organic posts on the employer's own pages (issue 16): Facebook Page, LinkedIn organisation, X."""
