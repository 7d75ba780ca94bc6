extensions = ["myst_parser", "sphinx_cnntable"]
numfig = True
exclude_patterns = ["specs"]
