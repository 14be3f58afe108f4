"""Differences between runs, notebooks and checkpoints, as JSON-able values (rendering is separate).

Named ``diffs`` so that ``jupyter_mlm.diff`` stays the public function.
"""
