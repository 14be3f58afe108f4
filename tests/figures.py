"""Figures the suites measure (security, reliability), printed at the end of every run."""

from __future__ import annotations

FIGURES: list[str] = []
