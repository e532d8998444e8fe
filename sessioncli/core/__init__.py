"""Synchronous use-cases; they take plain values, return dataclasses, never print or exit."""
