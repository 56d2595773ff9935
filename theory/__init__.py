"""Properties and conjectures about entangled skip mappings."""
