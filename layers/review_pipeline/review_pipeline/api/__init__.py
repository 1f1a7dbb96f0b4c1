"""The HTTP API of QueryApiFunction: its request and response bodies (`models`), its errors and the status
each maps to (`errors`), and its routes (`routes`). What the routes do is `logic.query.QueryService`."""
