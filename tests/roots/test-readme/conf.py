extensions = ["myst_parser", "sphinx_cnntable"]
exclude_patterns = ["project", "_build"]
