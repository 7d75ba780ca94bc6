extensions = ["myst_parser", "sphinx_cnntable"]
numfig = True
