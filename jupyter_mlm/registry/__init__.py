"""The model registry: versions stored by digest, flavors, lineage, stages, approvals, model cards.

The rules (stage moves, approvals, rollback, aliases, the stage policy) live in ``governance``,
checked inside the store's registry transactions so they hold under concurrency; the rest turns
models into bytes and back and explains versions.
"""

from .card import card_html, card_lines, model_card
from .governance import DEFAULT_POLICY, Governance, Move, allowed_moves, check_policy
from .models import Lineage, lineage, load, parse_ref, read_profile, register, resolve
from .names import check_model_name, check_version
from .version import ModelVersion

__all__ = [
    "DEFAULT_POLICY",
    "Governance",
    "Lineage",
    "ModelVersion",
    "Move",
    "allowed_moves",
    "card_html",
    "card_lines",
    "check_model_name",
    "check_policy",
    "check_version",
    "lineage",
    "load",
    "model_card",
    "parse_ref",
    "read_profile",
    "register",
    "resolve",
]
