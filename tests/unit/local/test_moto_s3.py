"""local/moto_s3.py: a multipart upload is joined on disk with moto's ETag and checksum, and a large object is
read back whole or by range, byte for byte, through the emulator's moto server."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from moto.s3.models import FakeMultipart
from requests.structures import CaseInsensitiveDict

from local import moto_s3
from local.moto_server import SerializedMotoServer

MIB = 1024 * 1024
REGION = "us-east-1"


@pytest.fixture
def s3() -> Iterator[Any]:
    moto_s3.install()
    server = SerializedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    requests.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()
    client = boto3.session.Session().client(
        "s3", region_name=REGION, endpoint_url=url, aws_access_key_id="a", aws_secret_access_key="b"
    )
    client.create_bucket(Bucket="big")
    try:
        yield client
    finally:
        server.stop()


def upload_in_parts(s3: Any, key: str, parts: list[bytes], **checksum: str) -> dict[str, Any]:
    upload = s3.create_multipart_upload(Bucket="big", Key=key, **checksum)["UploadId"]
    done = []
    for number, data in enumerate(parts, start=1):
        answer = s3.upload_part(Bucket="big", Key=key, UploadId=upload, PartNumber=number, Body=data)
        done.append({"PartNumber": number, "ETag": answer["ETag"]})
    response: dict[str, Any] = s3.complete_multipart_upload(
        Bucket="big", Key=key, UploadId=upload, MultipartUpload={"Parts": done}
    )
    return response


def test_a_multipart_upload_is_stored_whole_with_moto_s_etag_and_checksum(s3: Any) -> None:
    # Given three parts (5 MiB, 5 MiB, 3 MiB) of random bytes
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(3 * MIB)]
    whole = b"".join(parts)
    md5s = b"".join(hashlib.md5(part, usedforsecurity=False).digest() for part in parts)
    # When they are uploaded and completed, without and with a composite CRC32 checksum
    plain = upload_in_parts(s3, "plain.bin", parts)
    summed = upload_in_parts(s3, "summed.bin", parts, ChecksumAlgorithm="CRC32")
    # Then the object is the parts joined, its ETag S3's multipart ETag, and its checksums moto's
    checksums = {}
    for key, answer in (("plain.bin", plain), ("summed.bin", summed)):
        stored = s3.get_object(Bucket="big", Key=key, ChecksumMode="ENABLED")
        checksums[key] = stored.get("ChecksumCRC32")
        assert stored["Body"].read() == whole
        assert stored["ContentLength"] == len(whole)
        assert answer["ETag"].strip('"') == f"{hashlib.md5(md5s, usedforsecurity=False).hexdigest()}-3"
    metadata = CaseInsensitiveDict({"x-amz-checksum-algorithm": "CRC32"})
    reference = FakeMultipart("k", metadata, "123456789012", REGION)
    for number, part in enumerate(parts, start=1):
        reference.set_part(number, part)
    _, _, built = moto_s3._ORIGINAL_COMPLETE(
        reference, iter([(n, reference.parts[n].etag) for n in (1, 2, 3)])
    )
    assert built is not None
    kind, value, count = built
    assert checksums["summed.bin"] == f"{value}-{count}"
    assert kind == "COMPOSITE"


def test_a_large_object_is_read_by_range_and_whole_byte_for_byte(s3: Any) -> None:
    # Given a 20 MiB object (above STREAM_ABOVE_BYTES), uploaded in one put
    data = os.urandom(20 * MIB)
    s3.put_object(Bucket="big", Key="large.bin", Body=data)
    # When it is read whole, from the middle, its last bytes, and past its end
    assert s3.get_object(Bucket="big", Key="large.bin")["Body"].read() == data
    middle = s3.get_object(Bucket="big", Key="large.bin", Range=f"bytes={7 * MIB + 3}-{13 * MIB}")
    tail = s3.get_object(Bucket="big", Key="large.bin", Range="bytes=-1000")
    # Then each range is those bytes, with S3's Content-Range
    assert middle["Body"].read() == data[7 * MIB + 3 : 13 * MIB + 1]
    assert middle["ContentRange"] == f"bytes {7 * MIB + 3}-{13 * MIB}/{20 * MIB}"
    assert tail["Body"].read() == data[-1000:]
    with pytest.raises(s3.exceptions.ClientError) as past_the_end:
        s3.get_object(Bucket="big", Key="large.bin", Range=f"bytes={30 * MIB}-")
    assert past_the_end.value.response["Error"]["Code"] == "InvalidRange"


def test_a_part_sent_to_a_completed_upload_is_no_such_upload_as_on_s3(s3: Any) -> None:
    # Given an upload completed (its one part is also its last, so it may be small)
    upload = s3.create_multipart_upload(Bucket="big", Key="done.bin")["UploadId"]
    part = s3.upload_part(Bucket="big", Key="done.bin", UploadId=upload, PartNumber=1, Body=b"x")
    s3.complete_multipart_upload(
        Bucket="big", Key="done.bin", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip
    # When a part is sent to it again (a duplicate message of an export written in parts)
    # Then S3's NoSuchUpload comes back, not a server error
    with pytest.raises(s3.exceptions.NoSuchUpload):
        s3.upload_part(Bucket="big", Key="done.bin", UploadId=upload, PartNumber=1, Body=b"x")
