"""Serving registered models over HTTP (``jupyter mlm serve``): prediction routes compatible with
MLflow's scoring server, versions followed by stage or alias and swapped without failed requests,
shadow and A/B arms, every request logged to monitoring off the response path."""

from .app import Options, Service, make_app, parse_split, serve

__all__ = ["Options", "Service", "make_app", "parse_split", "serve"]
