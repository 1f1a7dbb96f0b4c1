"""Data access: the only modules that know DynamoDB keys, S3 object layout and SQS message shapes."""
