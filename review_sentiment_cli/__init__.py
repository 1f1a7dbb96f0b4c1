"""`review-sentiment`: upload review files, follow their jobs, export their results, from a terminal.

Talks to a deployed stack (found by its CloudFormation outputs) or to the local emulator (`.local/stack.json`)
with the clients a user has: boto3 for S3 and SQS, HTTP for the API.
"""
