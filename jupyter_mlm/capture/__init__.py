"""What a run is made of, captured: notebook, execution log, environment, data. Never imports IPython."""
