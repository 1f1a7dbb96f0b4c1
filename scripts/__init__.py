"""Deploy helpers run by the Makefile with the project's virtual environment (.venv)."""
