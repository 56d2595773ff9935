"""The HTML report of the entangled testbed."""
