"""Statistics on plain data, for monitoring: mergeable sketches and profiles, the reference a
model version is compared with, drift tests and performance metrics. Pure functions over
numpy/pandas values; nothing here touches the store."""
