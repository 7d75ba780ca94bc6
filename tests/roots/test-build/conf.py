extensions = ["myst_parser", "sphinx_cnntable"]
numfig = True
exclude_patterns = ["specs"]

show_warning_types = True  # Sphinx 7.4 leaves the [type.subtype] suffix out by default
