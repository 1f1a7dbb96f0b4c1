"""Shared domain of the Review Sentiment Pipeline, shipped to every function as a Lambda layer.

The flow of one review, module by module:
    readers  -> cleaning -> models.ReviewRecord -> chunking -> logic.preprocess  (functions/preprocess)
    endpoint (SageMaker InvokeEndpoint)         -> logic.inference              (functions/inference)
    dal.jobs / dal.results                      -> logic.query                  (functions/query_api)
"""
