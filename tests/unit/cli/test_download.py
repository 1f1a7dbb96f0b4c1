"""An exported job's object comes down through its presigned URL, (de)compressed to match the output name."""

from __future__ import annotations

import gzip
from pathlib import Path

import boto3
import pytest

from review_sentiment_cli.export import download_export
from tests.conftest import REGION

CSV = b"row,id,label,score,model_version,reason\n1,a,positive,0.9,m-1,\n2,,,,,row 2: text is empty\n"
JSONL = b'{"row": 1, "id": "a"}\n{"row": 2, "id": null}\n'


def presigned(bucket: str, key: str, body: bytes) -> str:
    """The object as the export function writes it, and the URL the API would hand out for it."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata={"rows": "2"})
    url: str = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=60)
    return url


@pytest.mark.parametrize(
    ("export_format", "stored", "output_name", "expected"),
    [
        ("csv", CSV, "out.csv", CSV),
        ("csv", CSV, "out.csv.gz", CSV),
        ("jsonl", gzip.compress(JSONL), "out.jsonl", JSONL),
        ("jsonl", gzip.compress(JSONL), "out.jsonl.gz", JSONL),
    ],
)
def test_the_export_is_written_as_the_output_name_asks(
    bucket: str, tmp_path: Path, export_format: str, stored: bytes, output_name: str, expected: bytes
) -> None:
    # Given an exported object (CSV plain, JSON lines gzip) behind a presigned URL
    url = presigned(bucket, f"results/job/{output_name}", stored)
    # When the CLI downloads it to a file whose name does or does not end in .gz
    output = tmp_path / output_name
    rows = download_export(url, export_format, output)  # type: ignore[arg-type]
    # Then the file holds the same rows, compressed exactly when its name says so
    written = output.read_bytes()
    assert (gzip.decompress(written) if output_name.endswith(".gz") else written) == expected
    assert rows == 2
