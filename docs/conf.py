"""Sphinx configuration for sklearn_ssl."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import sklearn_ssl

project = "sklearn_ssl"
author = "sklearn_ssl developers"
copyright = "2026, sklearn_ssl developers"
version = release = sklearn_ssl.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
autodoc_default_options = {"members": True}
numpydoc_show_class_members = False
templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]

html_theme = "pydata_sphinx_theme"
html_title = "sklearn_ssl"

intersphinx_mapping = {}  # the docs build offline

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
}
