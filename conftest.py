"""Pytest configuration shared by the tests and the docstring examples."""

import importlib.util

collect_ignore_glob = []
if importlib.util.find_spec("torch") is None or importlib.util.find_spec("skorch") is None:
    # The neural sub-package needs the optional torch extra.
    collect_ignore_glob.append("sklearn_ssl/neural/*")
