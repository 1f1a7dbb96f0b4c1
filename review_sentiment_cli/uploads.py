"""Review files to S3 under the stack's incoming/ prefix, with a progress bar per file.

A folder goes file by file (each file an object and a job), or with `pack` as one .tar.gz built in a
temporary folder (one object, one job): the form an unpacked aclImdb folder of 100,000 reviews needs. A
folder of more than MANY_FILES review files is refused unless one of the two is asked for.

boto3's managed transfer splits a big file into parts (multipart upload, several parts at once) and calls back
with the bytes sent, which is what the progress bars show. Each file's upload starts an X-Ray trace: every S3
request of it (PutObject, or each multipart call) sends `X-Amzn-Trace-Id: Root=<trace id>;Sampled=1`, which
S3 passes on to the notification's SQS message, so the file's job, its chunks and its export carry that trace.
"""

from __future__ import annotations

import secrets
import tarfile
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from review_pipeline.readers import accepted_suffixes
from review_sentiment_cli.target import Target

# The endings the preprocess function reads, from its readers' registry (longest first).
DATA_SUFFIXES = accepted_suffixes()
MIB = 1024 * 1024
# Past this many review files a folder is refused unless packed or sent file by file on purpose: each file
# is an upload and a job (an unpacked aclImdb is 100,000 of each).
MANY_FILES = 1_000
# Parts of 16 MiB, four at a time: a 1 GiB file is 64 parts (S3 allows 10,000), each retried on its own.
DEFAULT_TRANSFER = TransferConfig(
    multipart_threshold=16 * MIB, multipart_chunksize=16 * MIB, max_concurrency=4
)


class NoReviewFilesError(ValueError):
    """A path names nothing to upload."""


class TooManyFilesError(ValueError):
    """A folder holds more review files than make sense as as many jobs, and neither way was chosen."""


@dataclass(frozen=True)
class PlannedUpload:
    path: Path
    key: str
    packed: bool = False  # path is a folder, sent as one .tar.gz of its review files


@dataclass(frozen=True)
class Upload:
    """A file in the bucket, and the ids of the jobs its key had before: the next new one is its job."""

    path: Path
    key: str
    size: int
    earlier_job_ids: frozenset[str]
    trace_id: str | None = None  # the X-Ray trace its S3 requests carried


def new_trace_id() -> str:
    """A new X-Ray trace id: 1-<epoch seconds, 8 hex digits>-<96 random bits, 24 hex digits>."""
    return f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"


class TraceHeader:
    """Adds `X-Amzn-Trace-Id` (the upload's trace, while `trace_id` is set) to each S3 request of a client."""

    def __init__(self, s3: Any) -> None:
        self.trace_id: str | None = None
        s3.meta.events.register("before-call.s3", self._add)

    def _add(self, params: dict[str, Any], **_: Any) -> None:
        if self.trace_id:
            params["headers"]["X-Amzn-Trace-Id"] = f"Root={self.trace_id};Sampled=1"


def is_review_file(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(DATA_SUFFIXES) and not path.name.startswith(".")


def review_files(folder: Path) -> list[Path]:
    """The folder's review files, at any depth, in path order; NoReviewFilesError when there are none."""
    found = sorted(p for p in folder.rglob("*") if is_review_file(p))
    if not found:
        raise NoReviewFilesError(f"{folder}: no review files in it ({', '.join(DATA_SUFFIXES)})")
    return found


def plan_uploads(
    paths: Iterable[Path], incoming_prefix: str, folder: str = "", pack: bool = False, each_file: bool = False
) -> list[PlannedUpload]:
    """A file goes to <incoming><folder><name>; a directory's review files keep their relative paths, or with
    `pack` the directory goes as <incoming><folder><its name>.tar.gz."""
    base = incoming_prefix + (folder.strip("/") + "/" if folder.strip("/") else "")
    planned: list[PlannedUpload] = []
    for path in paths:
        if path.is_dir():
            planned.extend(_plan_folder(path, base, pack, each_file))
        elif is_review_file(path):
            planned.append(PlannedUpload(path, base + path.name))
        elif path.exists():
            raise NoReviewFilesError(
                f"{path}: not a review file (expected one of {', '.join(DATA_SUFFIXES)})"
            )
        else:
            raise NoReviewFilesError(f"{path}: no such file or directory")
    return planned


def _plan_folder(path: Path, base: str, pack: bool, each_file: bool) -> list[PlannedUpload]:
    found = review_files(path)
    if pack:
        return [PlannedUpload(path, f"{base}{path.resolve().name}.tar.gz", packed=True)]
    if len(found) > MANY_FILES and not each_file:
        raise TooManyFilesError(
            f"{path}: {len(found):,} review files would be {len(found):,} uploads and as many jobs; "
            "pass --pack to upload the folder as one .tar.gz (one job; folders such as pos/neg still give "
            "the labels), or --each-file to upload them one by one"
        )
    return [PlannedUpload(p, base + p.relative_to(path).as_posix()) for p in found]


def pack_folder(folder: Path, archive: Path) -> int:
    """The folder's review files in a .tar.gz under the folder's own name (aclImdb/train/pos/0_9.txt), so
    that their paths still give ids, ratings and labels; how many files it holds."""
    found = review_files(folder)
    top = folder.resolve().name
    with tarfile.open(archive, "w:gz", compresslevel=6) as packed:
        for path in found:
            packed.add(path, arcname=f"{top}/{path.relative_to(folder).as_posix()}", recursive=False)
    return len(found)


@contextmanager
def _file_to_send(item: PlannedUpload, progress: Progress) -> Iterator[Path]:
    """The file itself, or a packed folder's .tar.gz in a temporary folder while it is sent."""
    if not item.packed:
        yield item.path
        return
    with tempfile.TemporaryDirectory(prefix="review-sentiment-pack-") as scratch:
        archive = Path(scratch) / item.key.rsplit("/", 1)[-1]
        progress.console.print(f"packing {item.path} into {archive.name}...", markup=False, highlight=False)
        files = pack_folder(item.path, archive)
        progress.console.print(f"packed {files:,} review files", markup=False, highlight=False)
        yield archive


def transfer_progress(*, disable: bool, console: Any = None) -> Progress:
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        disable=disable,
    )


def upload_files(
    target: Target,
    planned: list[PlannedUpload],
    known_job_ids: Any,
    progress: Progress,
    config: TransferConfig = DEFAULT_TRANSFER,
) -> Iterator[Upload]:
    """Upload each file; `known_job_ids(key)` says which jobs the key had before (to tell the new one)."""
    s3 = target.client("s3")
    trace = TraceHeader(s3)
    for item in planned:
        with _file_to_send(item, progress) as source:
            size = source.stat().st_size
            earlier = frozenset(known_job_ids(item.key))
            task = progress.add_task(item.key, total=size)
            trace.trace_id = new_trace_id()  # one trace per file: the parts of a multipart upload share it
            s3.upload_file(
                str(source),
                target.bucket,
                item.key,
                Config=config,
                Callback=lambda sent, task=task: progress.advance(task, sent),
            )
        progress.update(task, completed=size)
        yield Upload(
            path=item.path, key=item.key, size=size, earlier_job_ids=earlier, trace_id=trace.trace_id
        )
