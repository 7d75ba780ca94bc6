extensions = ["myst_parser", "sphinx_cnntable"]
numfig = True

show_warning_types = True  # Sphinx 7.4 leaves the [type.subtype] suffix out by default
latex_documents = [("index", "diagram.tex", "Diagrams", "test", "howto")]
