"""Renderers: text, JSON (and later SARIF, DOT). They take the output stream as an argument."""
