"""Renderers: text, JSON, SARIF, DOT and HTML. They take the output stream as an argument."""
