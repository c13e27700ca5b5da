"""Shared test helpers: synthetic images and masks, database fixtures."""
