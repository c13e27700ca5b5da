"""The openlookout command line: serve, and a thin client of the public API."""
