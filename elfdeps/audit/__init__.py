"""Audit: rules, checks and the runner behind `elfdeps audit`."""
