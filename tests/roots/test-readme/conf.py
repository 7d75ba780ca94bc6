from sphinx_cnntable.readme import register_readme_hook

extensions = ["myst_parser", "sphinx_cnntable"]
exclude_patterns = ["project", "_build"]


def setup(app):
    register_readme_hook(app)  # idempotent: harmless once the extension's setup() calls it too
