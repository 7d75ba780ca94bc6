extensions = ["myst_parser", "sphinx_cnntable"]
numfig = True
project = "Special characters"
author = "sphinx-cnntable tests"
latex_documents = [("index", "special.tex", "Special characters", author, "manual")]

show_warning_types = True  # Sphinx 7.4 leaves the [type.subtype] suffix out by default
