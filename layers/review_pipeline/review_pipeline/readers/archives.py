"""Archives (.zip, .tar, .tar.gz/.tgz): every member in a supported format is read; the upload is one job.

Members are read in archive order and their rows numbered on from the previous member's, so a row number is
unique within the job; a row's reason names its member. A member that is not a review file (an unsupported
type, an archive inside the archive, a hidden or system file, the IMDb dataset's metadata: urls_*.txt,
imdbEr.txt, imdb.vocab, README) is skipped and listed on the job, and so is a member that cannot be read as
its type says; neither is a rejected row. A tar is read as a stream, member after member. A zip keeps its
directory at its end, so a zip that arrives as a stream is first spooled (memory up to 8 MB, then a temporary
file in /tmp).
"""

from __future__ import annotations

import io
import re
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO

from review_pipeline.readers.context import ReadContext, Rows
from review_pipeline.readers.errors import FileFormatError, ParsedRow, RowError

_SPOOL_BYTES = 8 << 20
_DATASET_METADATA = re.compile(r"^(?:urls_\w+\.txt|imdber\.txt|imdb\.vocab|readme(?:\.\w+)?)$", re.IGNORECASE)
# What a member that cannot be read raises, besides FileFormatError (bad CRC, unsupported compression,
# password).
_MEMBER_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    NotImplementedError,
    RuntimeError,
    tarfile.TarError,
)


def member_skip_reason(path: str) -> str | None:
    """Why a member is not read at all, whatever its type says; None when it may hold reviews."""
    parts = path.split("/")
    if any(part.startswith(".") or part == "__MACOSX" for part in parts if part):
        return "hidden or system file, not reviews"
    if _DATASET_METADATA.match(parts[-1]):
        return "dataset metadata (IMDb URLs, vocabulary or README), not reviews"
    return None


def read_zip(binary: io.BufferedIOBase, context: ReadContext) -> Rows:
    with _seekable(binary) as seekable:
        try:
            archive = zipfile.ZipFile(seekable)
        except (zipfile.BadZipFile, EOFError) as error:
            raise FileFormatError(
                f"{context.source}: the file is not a zip archive ({error}); zip it again and upload it again"
            ) from error
        with archive:
            members = ((info.filename, info) for info in archive.infolist() if not info.is_dir())
            yield from _read_members(
                ((path, lambda i=info: archive.open(i)) for path, info in members), context
            )


def read_tar(binary: io.BufferedIOBase, context: ReadContext) -> Rows:
    try:
        archive = tarfile.open(fileobj=binary, mode="r|")  # noqa: SIM115 - closed below, read as a stream
    except tarfile.TarError as error:
        raise FileFormatError(
            f"{context.source}: the file is not a tar archive ({error}); "
            "create it with tar and upload it again"
        ) from error
    with archive:
        yield from _read_members(_tar_members(archive, context), context)


def _tar_members(archive: tarfile.TarFile, context: ReadContext) -> Iterator[tuple[str, object]]:
    try:
        for member in archive:
            if member.isfile():
                yield member.name, lambda m=member: archive.extractfile(m)
    except tarfile.TarError as error:
        raise FileFormatError(
            f"{context.source}: the tar archive is broken after its last complete member ({error}); "
            "create it again and upload it again"
        ) from error


def _read_members(members: Iterator[tuple[str, object]], context: ReadContext) -> Rows:
    if context.read_member is None:
        raise TypeError("an archive's members are read with read_member: the reader registry sets it")
    offset = 0
    for path, open_member in members:
        reason = member_skip_reason(path)
        if reason is not None:
            context.report.skip(path, reason)
            continue
        member_context = context.for_member(path)
        last = 0
        try:
            with open_member() as member:  # type: ignore[operator]
                rows = context.read_member(member, path, member_context)
                for row in rows:
                    last = row.row
                    yield _renumbered(row, offset, path)
        except FileFormatError as error:
            if not str(error).startswith(f"{member_context.source}: "):
                raise  # the archive itself is broken, not this member
            context.report.skip(path, str(error).removeprefix(f"{member_context.source}: "))
        except _MEMBER_ERRORS as error:
            context.report.skip(path, f"cannot be read from the archive ({error})")
        else:
            context.report.members_read += 1
        offset += last


def _renumbered(row: ParsedRow | RowError, offset: int, path: str) -> ParsedRow | RowError:
    if isinstance(row, RowError):
        return RowError(row.row + offset, f"{path}: {row.reason}", row.raw, row.kind)
    return ParsedRow(row.row + offset, row.fields, row.raw, path)


class _seekable:
    """The stream itself when it can seek, else a spooled copy (memory up to 8 MB, then /tmp)."""

    def __init__(self, binary: io.BufferedIOBase) -> None:
        self._binary = binary
        self._spool: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes]:
        if _can_seek(self._binary):
            return self._binary  # type: ignore[return-value]
        self._spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)
        shutil.copyfileobj(self._binary, self._spool, 1 << 20)
        self._spool.seek(0)
        return self._spool

    def __exit__(self, *exc_info: object) -> None:
        if self._spool is not None:
            self._spool.close()


def _can_seek(binary: io.BufferedIOBase) -> bool:
    try:
        return binary.seekable()
    except (AttributeError, ValueError, OSError):
        return False
