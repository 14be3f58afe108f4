"""The model registry: versions stored by digest, flavors, lineage, stages, approvals, model cards.

The rules that must hold under concurrency (one production version, approvals, the audit chain)
are enforced by the store; this package turns models into bytes and back and explains versions.
"""

from .card import card_html, card_lines, model_card
from .models import Lineage, check_model_name, lineage, load, parse_ref, read_profile, register, resolve
from .version import ModelVersion

__all__ = [
    "Lineage",
    "ModelVersion",
    "card_html",
    "card_lines",
    "check_model_name",
    "lineage",
    "load",
    "model_card",
    "parse_ref",
    "read_profile",
    "register",
    "resolve",
]
