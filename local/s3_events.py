"""S3 event notifications as S3 sends them, from moto.

moto delivers a bucket's notifications to SQS itself (in server mode too: the server runs in the emulator's
process), but its event record (moto 5.2) leaves out fields every real S3 record carries: userIdentity,
requestParameters, responseElements, s3.bucket.ownerIdentity, s3.object.sequencer/versionId. Powertools'
S3Model requires them, so a function that parses real events correctly would reject moto's. It also encodes
"/" in the object key, which S3 does not (S3 form-encodes the key but keeps "/").

This bridge wraps moto's event builder once per process and completes each record, so what the preprocess
function receives locally has the shape it receives on AWS. It also drops the ObjectCreated:Put that moto
5.2 sends from inside CompleteMultipartUpload (it stores the object with its own put_object, which notifies):
S3 sends one event for a multipart upload, ObjectCreated:CompleteMultipartUpload, and a second one made every
`aws s3 cp` of a large file reach the preprocess function twice.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

from moto.s3 import notifications
from moto.s3.models import S3Backend

from local.resolve import UnresolvedReferenceError

_installed = threading.Lock()
_sequence = itertools.count(1)
_ORIGINAL: Callable[..., dict[str, Any]] = notifications._get_s3_event
_ORIGINAL_SEND = notifications.send_event
_ORIGINAL_COMPLETE = S3Backend.complete_multipart_upload
_completing = threading.local()  # set while this thread runs CompleteMultipartUpload


def _complete_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
    event = _ORIGINAL(event_name, bucket, key, notification_id)
    request_id = (
        hashlib.sha1(f"{bucket.name}/{key.name}/{next(_sequence)}".encode(), usedforsecurity=False)
        .hexdigest()[:16]
        .upper()
    )
    for record in event.get("Records", []):
        record.setdefault("userIdentity", {"principalId": "AWS:AIDALOCALEMULATOR"})
        record.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
        record.setdefault("responseElements", {"x-amz-request-id": request_id, "x-amz-id-2": request_id * 4})
        s3 = record["s3"]
        s3["bucket"].setdefault("ownerIdentity", {"principalId": "A1LOCALEMULATOR"})
        s3["object"]["key"] = quote_plus(key.name, safe="/")
        s3["object"].setdefault("sequencer", f"{next(_sequence):016X}")
        version = getattr(key, "version_id", None)
        if version and version != "null":
            s3["object"].setdefault("versionId", str(version))
    return event


def _send_event(account_id: str, event_name: Any, *args: Any, **kwargs: Any) -> None:
    if (
        getattr(_completing, "active", False)
        and event_name == notifications.S3NotificationEvent.OBJECT_CREATED_PUT_EVENT
    ):
        return  # the put_object inside CompleteMultipartUpload: S3 sends only the completion's event
    _ORIGINAL_SEND(account_id, event_name, *args, **kwargs)


def _complete_multipart_upload(self: S3Backend, *args: Any, **kwargs: Any) -> Any:
    _completing.active = True
    try:
        return _ORIGINAL_COMPLETE(self, *args, **kwargs)
    finally:
        _completing.active = False


def install() -> None:
    """Make moto's S3 notifications complete, one per upload (idempotent; moto in this process only)."""
    with _installed:
        notifications._get_s3_event = _complete_event
        notifications.send_event = _send_event
        S3Backend.complete_multipart_upload = _complete_multipart_upload  # type: ignore[method-assign]


def queue_configurations(
    logical_id: str, notifications: dict[str, Any], resolve_str: Callable[[Any, str], str]
) -> list[dict[str, Any]]:
    """A template bucket's NotificationConfiguration as put_bucket_notification_configuration's queues."""
    configurations = []
    for index, entry in enumerate(notifications.get("QueueConfigurations", [])):
        where = f"{logical_id}.NotificationConfiguration.QueueConfigurations[{index}]"
        configuration: dict[str, Any] = {
            "Id": f"{logical_id}-queue-{index}",
            "QueueArn": resolve_str(entry["Queue"], where),
            "Events": [entry["Event"]],
        }
        rules = entry.get("Filter", {}).get("S3Key", {}).get("Rules", [])
        if rules:
            configuration["Filter"] = {
                "Key": {"FilterRules": [{"Name": r["Name"].lower(), "Value": r["Value"]} for r in rules]}
            }
        configurations.append(configuration)
    unsupported = set(notifications) - {"QueueConfigurations"}
    if unsupported:
        raise UnresolvedReferenceError(
            f"{logical_id}: the emulator does not emulate {sorted(unsupported)} notifications"
        )
    return configurations
