"""X-Ray for Powertools' Tracer, imported when first used instead of when the handler module is imported.

Powertools builds its X-Ray provider in `Tracer()`, which imports the X-Ray SDK and, through it, botocore's
session and docs machinery: about 0.2 s of every cold start before the handler runs. `LazyXRayProvider` is the
same provider (the SDK's `xray_recorder`, configured as Powertools configures it) loaded on first use, so a
handler module builds `Tracer(provider=LazyXRayProvider(), auto_patch=False)` at import and calls
`tracer.patch()` (patch every library X-Ray supports, as auto_patch would) in its service getter, before the
service creates its boto3 clients.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.tracing.base import BaseProvider

if TYPE_CHECKING:
    import numbers


@cache
def _recorder() -> Any:
    from aws_xray_sdk.core import xray_recorder

    # As Powertools configures its own X-Ray provider: subsegments sent one by one (powertools#283).
    xray_recorder.configure(streaming_threshold=0)
    return xray_recorder


class LazyXRayProvider(BaseProvider):
    """The X-Ray SDK's recorder, imported on the first call that needs it."""

    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Any:
        return _recorder().in_subsegment(name=name, **kwargs)

    def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> Any:
        return _recorder().in_subsegment_async(name=name, **kwargs)

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        _recorder().put_annotation(key=key, value=value)

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        _recorder().put_metadata(key=key, value=value, namespace=namespace)

    def patch(self, modules: Sequence[str]) -> None:
        from aws_xray_sdk.core import patch

        _recorder()
        patch(modules)

    def patch_all(self) -> None:
        from aws_xray_sdk.core import patch_all

        _recorder()
        patch_all()
