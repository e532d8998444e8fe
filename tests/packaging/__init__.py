"""Tests of what gets shipped: the wheel, its data files, and the generated files."""
