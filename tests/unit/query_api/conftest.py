from tests.endpoint_server import _scoring_handler, sentiment_endpoint  # noqa: F401 - fixtures
