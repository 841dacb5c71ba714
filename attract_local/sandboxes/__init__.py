"""Local stand-ins for outside APIs (labelled LOCAL SANDBOX when they start): tests, `make local`, `make demo`."""
