"""The last delivery of an SQS message, and errors told in one line.

A message that keeps failing is received up to its queue's maxReceiveCount times, then SQS moves it to the
dead-letter queue. The functions are told that count (MAX_RECEIVE_COUNT); on the delivery that reaches it they
settle the work they can attribute to a job (rejected rows, a FAILED job) instead of raising, so no job waits
forever for a message that sits in a dead-letter queue.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

ERROR_TEXT_CHARS = 300


def is_last_delivery(receive_count: int, max_receive_count: int) -> bool:
    """Whether SQS dead-letters this message if it fails again (ApproximateReceiveCount may overshoot)."""
    return receive_count >= max_receive_count


def error_code(error: BaseException) -> str:
    """The AWS error code of a ClientError (or the `code` an error carries), else the exception's type."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "Unknown"))
    code = getattr(error, "code", None)
    return code if isinstance(code, str) and code else type(error).__name__


def describe_error(error: BaseException) -> str:
    """'Code: message', short enough for a job's error or a rejected row's reason."""
    if isinstance(error, ClientError):
        message = str(error.response.get("Error", {}).get("Message", "")).strip() or str(error)
    else:
        message = str(error).strip()
    text = f"{error_code(error)}: {message}" if message else error_code(error)
    return text if len(text) <= ERROR_TEXT_CHARS else text[: ERROR_TEXT_CHARS - 1] + "…"
