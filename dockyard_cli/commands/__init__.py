"""One module per noun; each defines a Typer group `app` or a `register(app)` for top-level verbs."""
