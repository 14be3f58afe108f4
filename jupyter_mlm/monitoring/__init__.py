"""Production monitoring: batches of production data become mergeable profiles, compared with
the model version's reference (drift), joined with labels that arrive later (performance),
checked against alert rules. ``jupyter_mlm.monitoring.service`` is the core the faces call."""
