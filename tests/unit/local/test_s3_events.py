"""The emulator's S3 notifications: one event per upload, as S3 sends them, for a multipart upload too."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
from boto3.s3.transfer import TransferConfig
from moto import mock_aws

from local import s3_events

REGION = "us-east-1"
MIB = 1024 * 1024


def test_a_multipart_upload_sends_one_complete_multipart_upload_event_and_a_put_one_put_event(
    tmp_path: Path,
) -> None:
    with mock_aws():
        s3_events.install()
        # Given a bucket whose uploads under incoming/ notify a queue
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(QueueName="ingest")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="uploads")
        s3.put_bucket_notification_configuration(
            Bucket="uploads",
            NotificationConfiguration={
                "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]
            },
        )
        big = tmp_path / "big.jsonl"
        big.write_bytes(b'{"text": "x"}\n' * (12 * MIB // 14))
        # When a file goes up in 5 MiB parts, and a small one in one put
        s3.upload_file(
            str(big), "uploads", "incoming/big.jsonl", Config=TransferConfig(multipart_threshold=5 * MIB)
        )
        s3.put_object(Bucket="uploads", Key="incoming/small.jsonl", Body=b'{"text": "y"}\n')
        # Then the queue holds one event per object, named as S3 names them
        events = []
        while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                body = json.loads(message["Body"])
                if "Records" not in body:  # S3's test event, sent when the notification was configured
                    assert body["Event"] == "s3:TestEvent"
                    continue
                record = body["Records"][0]
                events.append((record["s3"]["object"]["key"], record["eventName"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        assert sorted(events) == [
            ("incoming/big.jsonl", "ObjectCreated:CompleteMultipartUpload"),
            ("incoming/small.jsonl", "ObjectCreated:Put"),
        ]
