"""The `review-sentiment` command: one sub-command per thing a user does with the pipeline."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from review_pipeline.export_rows import job_rows, row_writer, write_rows
from review_sentiment_cli.api import ApiClient, ApiError
from review_sentiment_cli.export import download_export, open_output
from review_sentiment_cli.follow import all_succeeded, follow_jobs, job_progress
from review_sentiment_cli.redrive import NoSourceQueueError, redrive
from review_sentiment_cli.target import LOCAL_STATE_FILE, NoTargetError, Target, resolve_target
from review_sentiment_cli.uploads import (
    MANY_FILES,
    NoReviewFilesError,
    TooManyFilesError,
    plan_uploads,
    transfer_progress,
    upload_files,
)

TOKEN_VARIABLE = "REVIEW_SENTIMENT_TOKEN"  # noqa: S105 - the variable's name, not a token
DEFAULT_FOLLOW_TIMEOUT = 3600.0
PIPED_TABLE_WIDTH = 200

app = typer.Typer(
    help="Upload review files, follow their jobs, export their results: a deployed stack or the emulator.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, soft_wrap=True)  # messages stay one line each, whatever the width


class ExportFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


class Sentiment(StrEnum):
    positive = "positive"
    negative = "negative"


class Via(StrEnum):
    move_task = "move-task"
    receive_send = "receive-send"


@dataclass
class Session:
    """What every command needs: the target, resolved once, and an API client with the token."""

    stack: str | None
    region: str | None
    token: str | None
    state_file: Path
    _target: Target | None = None

    @property
    def target(self) -> Target:
        if self._target is None:
            self._target = resolve_target(self.stack, self.region, self.state_file)
        return self._target

    @property
    def api(self) -> ApiClient:
        return ApiClient(self.target.api_url, self.token)


@app.callback()
def main_options(
    context: typer.Context,
    stack: Annotated[
        str | None, typer.Option(help="Deployed stack name (else: the running emulator).")
    ] = None,
    region: Annotated[str | None, typer.Option(help="Region of --stack (default: your AWS config).")] = None,
    token: Annotated[
        str | None, typer.Option(envvar=TOKEN_VARIABLE, help="JWT for the API when its auth is on.")
    ] = None,
    state_file: Annotated[Path, typer.Option(hidden=True)] = LOCAL_STATE_FILE,
) -> None:
    context.obj = Session(stack=stack, region=region, token=token, state_file=state_file)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


@app.command()
def upload(
    context: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Review files or folders of them.")],
    folder: Annotated[str, typer.Option(help="Sub-folder under incoming/ to upload into.")] = "",
    follow: Annotated[bool, typer.Option(help="Show each job's progress until it ends.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per job on stdout.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds --follow waits at most.")] = DEFAULT_FOLLOW_TIMEOUT,
    pack: Annotated[
        bool, typer.Option(help="Send each folder as one .tar.gz: one job, not one a file (e.g. aclImdb/).")
    ] = False,
    each_file: Annotated[
        bool, typer.Option(help=f"Send a folder of over {MANY_FILES:,} review files file by file anyway.")
    ] = False,
) -> None:
    """Upload files (multipart when big), a progress bar each; exit 1 if a followed job did not succeed."""
    session: Session = context.obj
    target, api = session.target, session.api
    planned = plan_uploads(paths, target.incoming_prefix, folder, pack=pack, each_file=each_file)
    known = (lambda key: [j["job_id"] for j in api.jobs(source_key=key)]) if follow else (lambda key: [])
    with transfer_progress(disable=not err.is_terminal, console=err) as progress:
        uploads = list(upload_files(target, planned, known, progress))
    for item in uploads:
        where = f"uploaded {item.path} -> s3://{target.bucket}/{item.key} (X-Ray trace {item.trace_id})"
        err.print(where, markup=False, highlight=False)
    if not follow:
        for item in uploads if as_json else []:
            upload = {"job_id": None, "source_key": item.key, "status": "UPLOADED", "counts": None}
            _print_json({**upload, "trace_id": item.trace_id})
        return
    with job_progress(disable=not err.is_terminal, console=err) as progress:
        followed = follow_jobs(api, uploads, progress, timeout)
    for outcome in followed:
        if as_json:
            _print_json(outcome.summary())
        else:
            error = f"  {outcome.job.get('error')}" if outcome.job and outcome.job.get("error") else ""
            typer.echo(f"{outcome.status:<22} {outcome.upload.key}{error}")
    if not all_succeeded(followed):
        raise typer.Exit(1)


@app.command()
def jobs(
    context: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="How many of the newest jobs.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per job.")] = False,
) -> None:
    """The newest jobs, with their status and counts."""
    found = context.obj.api.jobs(limit=limit)
    if as_json:
        for job in found:
            _print_json(job)
        return
    table = Table("job_id", "file", "status", "total", "classified", "rejected", "positive", "created")
    for job in found:
        counts = job["counts"]
        table.add_row(
            job["job_id"],
            job["source_key"],
            job["status"],
            *(str(counts[k]) for k in ("total", "classified", "rejected", "positive")),
            job["created_at"],
        )
    # Piped into a file or another program, the table keeps whole ids and keys instead of fitting 80 columns.
    Console(width=None if sys.stdout.isatty() else PIPED_TABLE_WIDTH).print(table)


@app.command()
def status(context: typer.Context, job_id: str) -> None:
    """One job as the API shows it (JSON)."""
    _print_json(context.obj.api.job(job_id))


@app.command()
def results(
    context: typer.Context,
    job_id: str,
    export_format: Annotated[ExportFormat, typer.Option("--format")] = ExportFormat.csv,
    sentiment: Annotated[Sentiment | None, typer.Option(help="Only results of this label.")] = None,
    output: Annotated[
        Path | None, typer.Option(help="File to write (.gz compresses); default stdout.")
    ] = None,
) -> None:
    """Every row of a job: results (id, row, label, score, model_version, uncertain), rejected rows (reason).

    The pipeline's own export when the job has one (one download); otherwise, or with --sentiment, the rows
    are paged from the API, which takes one call per 100 rows.
    """
    api: ApiClient = context.obj.api
    api.job(job_id)  # a clear 404 before anything is written
    where = output or "stdout"
    link = None if sentiment else api.export_link(job_id, export_format.value)
    if link is not None:
        rows = download_export(link["url"], export_format.value, output)
        err.print(f"export of job {job_id} ({rows} rows) downloaded to {where}", highlight=False)
        return
    if not sentiment:
        err.print(f"job {job_id} has no export yet: paging its rows from the API", highlight=False)
    label = sentiment.value if sentiment else None
    rows_iter = job_rows(api.reviews(job_id, label), None if label else api.rejected(job_id))
    with open_output(output) as out:
        written = write_rows(rows_iter, row_writer(out, export_format.value))
    err.print(f"{written} rows of job {job_id} written to {where}", highlight=False)


@app.command()
def predict(
    context: typer.Context,
    texts: Annotated[list[str], typer.Argument(help="Review texts to classify.")],
    explain: Annotated[bool, typer.Option(help="Also show the n-grams that weighed most.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The API's answer as JSON.")] = False,
) -> None:
    """Classify texts now, with the deployed model."""
    answer = context.obj.api.predict(texts, explain=explain)
    if as_json:
        _print_json(answer)
        return
    for prediction, text in zip(answer["predictions"], texts, strict=True):
        typer.echo(f"{prediction['label']:<8} {prediction['score']:.3f}  {text}")
        for label, grams in (prediction.get("explanation") or {}).items():
            typer.echo(f"         {label}: " + ", ".join(g["ngram"] for g in grams))
    typer.echo(f"model {answer['model_version']}")


@app.command("redrive")
def redrive_command(
    context: typer.Context,
    via: Annotated[
        Via | None,
        typer.Option(help="move-task (SQS moves them; AWS) or receive-send (the CLI moves them; emulator)."),
    ] = None,
) -> None:
    """Move dead-lettered messages back to their source queues, so the pipeline tries them again."""
    target: Target = context.obj.target
    method = via or (Via.receive_send if target.is_local else Via.move_task)
    sqs = target.client("sqs")
    for url in target.dead_letter_queue_urls:
        outcome = redrive(sqs, url, method.value)
        moved = f"{outcome.moved} messages moved" if outcome.moved is not None else "move task started"
        typer.echo(f"{url} -> {outcome.source_queue_url}: {moved}")


def main() -> None:
    """Entry point of the console script: known failures become one clear line and exit status 2."""
    try:
        app()
    except (NoTargetError, NoReviewFilesError, TooManyFilesError, NoSourceQueueError, ApiError) as error:
        err.print(f"error: {error}", markup=False, highlight=False)
        sys.exit(2)
    except (ClientError, BotoCoreError) as error:
        err.print(f"AWS error: {error}", markup=False, highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        # Only the CLI stops: uploaded files go on through the pipeline (`review-sentiment jobs` shows them).
        err.print("interrupted; jobs already started go on in the pipeline", highlight=False)
        sys.exit(130)
