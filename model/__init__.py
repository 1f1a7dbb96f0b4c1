"""Sentiment model for the Review Sentiment Pipeline: data readers, training, evaluation and serving code.

`model.serving.inference` is the serving code shipped inside the artifact; `model.train` trains it.
"""
