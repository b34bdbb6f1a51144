"""The HTTP API: FastAPI routes over the same application the CLI drives."""
