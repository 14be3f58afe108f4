"""Other trackers' stores in and out (MLflow)."""
