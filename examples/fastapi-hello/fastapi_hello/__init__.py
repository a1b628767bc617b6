"""A small FastAPI service that runs from one file."""
