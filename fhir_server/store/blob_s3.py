"""Blob store on S3 or an S3-compatible service (MinIO ...), through boto3.

Objects are ``<prefix><key>``. Uploads up to one part (8 MiB) go in one ``PutObject`` once the
stream has been read and validated; larger ones use a multipart upload, aborted on any failure
(cancellation included), so a rejected upload leaves no object and no pending parts. Only one
part is held in memory at a time. boto3 is blocking: every call runs in a worker thread.

Credentials come from boto3's standard chain (the ``AWS_*`` environment variables, or the
instance/task role in production); nothing here reads them itself. With a custom endpoint,
path-style addressing is used and checksums are only sent where required, which S3-compatible
stores understand.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Final, TypeVar

import anyio
import anyio.to_thread
import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from fhir_server.errors import NotFound
from fhir_server.store.blob_ingest import BlobIngest
from fhir_server.store.blobs import StoredBlob, check_blob_key, new_blob_key, resolve_range, safe_filename
from fhir_server.store.sniff import Purpose

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

PART_BYTES: Final = 8 * 1024 * 1024  # S3 wants at least 5 MiB for every part but the last
READ_CHUNK_BYTES: Final = 256 * 1024
_MISSING_CODES: Final = frozenset({"404", "NoSuchKey", "NotFound"})

T = TypeVar("T")
logger = logging.getLogger(__name__)


def _is_missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in _MISSING_CODES


def _client_config(*, custom_endpoint: bool) -> Config:
    if not custom_endpoint:
        return Config(signature_version="s3v4", retries={"mode": "standard"})
    return Config(
        signature_version="s3v4",
        retries={"mode": "standard"},
        s3={"addressing_style": "path"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


class S3BlobStore:
    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        part_bytes: int = PART_BYTES,
        read_chunk_bytes: int = READ_CHUNK_BYTES,
    ) -> None:
        self._bucket = bucket
        self._prefix = prefix
        self._part_bytes = part_bytes
        self._read_chunk_bytes = read_chunk_bytes
        # A session per store: sessions are not thread-safe, clients are.
        self._client: S3Client = boto3.session.Session().client(
            "s3",
            region_name=region,
            endpoint_url=endpoint_url,
            config=_client_config(custom_endpoint=endpoint_url is not None),
        )

    def _object_key(self, key: str) -> str:
        return self._prefix + check_blob_key(key)

    async def _call(self, function: Callable[..., T], /, **kwargs: Any) -> T:
        return await anyio.to_thread.run_sync(partial(function, **kwargs))

    async def put(
        self,
        *,
        chunks: AsyncIterable[bytes],
        content_type: str,
        max_bytes: int,
        purpose: Purpose | None = None,
    ) -> StoredBlob:
        ingest = await BlobIngest.begin(
            chunks=chunks, declared=content_type, purpose=purpose, max_bytes=max_bytes
        )
        key = new_blob_key()
        object_key = self._object_key(key)
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[CompletedPartTypeDef] = []
        try:
            async for chunk in ingest.chunks():
                buffer += chunk
                while len(buffer) >= self._part_bytes:
                    if upload_id is None:
                        upload_id = await self._start_multipart(object_key, ingest.content_type)
                    with memoryview(buffer) as view:  # released before the buffer shrinks
                        part = bytes(view[: self._part_bytes])
                    del buffer[: self._part_bytes]
                    parts.append(await self._upload_part(object_key, upload_id, len(parts) + 1, part))
            if upload_id is None:
                await self._call(
                    self._client.put_object,
                    Bucket=self._bucket,
                    Key=object_key,
                    Body=bytes(buffer),
                    ContentType=ingest.content_type,
                )
            else:
                if buffer:
                    parts.append(
                        await self._upload_part(object_key, upload_id, len(parts) + 1, bytes(buffer))
                    )
                await self._call(
                    self._client.complete_multipart_upload,
                    Bucket=self._bucket,
                    Key=object_key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
        except BaseException:
            if upload_id is not None:
                await self._abort_multipart(object_key, upload_id)
            raise
        return ingest.stored(key)

    async def _abort_multipart(self, object_key: str, upload_id: str) -> None:
        """Drop the parts of a failed upload; a failure here must not hide the original error."""
        with anyio.CancelScope(shield=True):
            try:
                await self._call(
                    self._client.abort_multipart_upload,
                    Bucket=self._bucket,
                    Key=object_key,
                    UploadId=upload_id,
                )
            except (ClientError, BotoCoreError):
                # A bucket lifecycle rule (AbortIncompleteMultipartUpload) cleans up what remains.
                logger.warning("Could not abort multipart upload %s", upload_id, exc_info=True)

    async def _start_multipart(self, object_key: str, content_type: str) -> str:
        response = await self._call(
            self._client.create_multipart_upload,
            Bucket=self._bucket,
            Key=object_key,
            ContentType=content_type,
        )
        return response["UploadId"]

    async def _upload_part(
        self, object_key: str, upload_id: str, number: int, body: bytes
    ) -> CompletedPartTypeDef:
        response = await self._call(
            self._client.upload_part,
            Bucket=self._bucket,
            Key=object_key,
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
        )
        return {"ETag": response["ETag"], "PartNumber": number}

    async def open(
        self, key: str, *, start: int | None = None, end: int | None = None
    ) -> AsyncIterator[bytes]:
        first, last = resolve_range(start=start, end=end, size=await self.size(key))
        return self._read(self._object_key(key), first=first, last=last)

    async def _read(self, object_key: str, *, first: int, last: int) -> AsyncIterator[bytes]:
        if last < first:
            return
        try:
            response = await self._call(
                self._client.get_object,
                Bucket=self._bucket,
                Key=object_key,
                Range=f"bytes={first}-{last}",
            )
        except ClientError as error:
            if _is_missing(error):
                raise NotFound("Blob not found.") from None
            raise
        body = response["Body"]
        try:
            while chunk := await anyio.to_thread.run_sync(body.read, self._read_chunk_bytes):
                yield chunk
        finally:
            body.close()

    async def size(self, key: str) -> int:
        try:
            response = await self._call(
                self._client.head_object, Bucket=self._bucket, Key=self._object_key(key)
            )
        except ClientError as error:
            if _is_missing(error):
                raise NotFound("Blob not found.") from None
            raise
        return response["ContentLength"]

    async def delete(self, key: str) -> None:
        await self._call(self._client.delete_object, Bucket=self._bucket, Key=self._object_key(key))

    async def ping(self) -> None:
        await self._call(self._client.head_bucket, Bucket=self._bucket)

    def presigned_url(
        self, key: str, *, content_type: str, expires: int = 300, download_name: str | None = None
    ) -> str | None:
        params = {"Bucket": self._bucket, "Key": self._object_key(key), "ResponseContentType": content_type}
        filename = safe_filename(download_name)
        if filename is not None:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return self._client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)

    async def close(self) -> None:
        self._client.close()
