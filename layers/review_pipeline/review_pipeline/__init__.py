"""Shared domain of the Review Sentiment Pipeline, shipped to every function as a Lambda layer.

The flow of one review, module by module:
    readers  -> cleaning -> models.ReviewRecord -> chunking -> logic.preprocess  (functions/preprocess)
    endpoint (SageMaker InvokeEndpoint)         -> logic.inference              (functions/inference)
    dal.jobs / dal.results                      -> logic.query, api.routes      (functions/query_api)
    dal.results -> export_rows (a finished job) -> logic.export                 (functions/export)
Each function's service (UploadSplitter, ChunkClassifier, QueryService, JobExporter) is built by
`from_settings(settings[, metrics])` in its handler's cached `service()` getter; sqs_records holds what the
three SQS functions receive.
"""
