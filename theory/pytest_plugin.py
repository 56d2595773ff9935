"""pytest plugin of the theory package (registered under the ``pytest11`` entry point)."""
