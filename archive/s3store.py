"""`S3Store`: the archive on MinIO (or any S3 API) with Object Lock, through the `minio` SDK.

Reads, lookups, object listings, locks and holds use the SDK's public API. Writes cannot: its
`put_object` sends no `x-amz-checksum-sha256` with each part nor in the list that completes
an upload, and turns `If-None-Match` (write-once) into user metadata; nor has it a call to
list or abort the unfinished uploads that `reconcile` clears. Those requests go through the
SDK's signed-request method `Minio._execute`, in `_send` here and nowhere else; the minio
pin in pyproject.toml and a test in tests/test_s3store.py hold it to the shape used here.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlsplit
from xml.etree import ElementTree

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE, Tags
from minio.datatypes import ListMultipartUploadsResult
from minio.error import S3Error, ServerError
from minio.helpers import DictType, genheaders
from minio.retention import Retention

from archive.errors import ObjectExists, ObjectMissing, RetentionLocked, StoreUnavailable
from archive.store import CHUNK, ObjectInfo, ObjectWriter

MIN_PART = 5 << 20
_LOCKERS = 8  # retention requests in flight at once
_PART_BUFFERS = 2  # per store, shared by its writers: one fills while the other uploads
_NOT_FOUND = {"NoSuchKey", "NoSuchVersion", "ResourceNotFound"}
# A bucket that is gone is the store misconfigured or not yet restored, not one damaged bundle.
_STORE_DOWN = {"NoSuchBucket", "ServiceUnavailable", "SlowDown", "InternalError"}


@dataclass(frozen=True)
class S3Location:
    """Parsed `s3://ACCESS:SECRET@host:port/bucket?secure=false`."""

    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    secure: bool
    region: str | None

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """Read a store URL; the message names what is missing."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.hostname:
            raise ValueError(f"store URL {parts.scheme}://…: expected s3://ACCESS:SECRET@host:port/bucket")
        bucket = parts.path.strip("/")
        if not bucket:
            raise ValueError("store URL: the bucket name is missing")
        query = parse_qs(parts.query)
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        return cls(
            endpoint=host,
            access_key=unquote(parts.username or ""),
            secret_key=unquote(parts.password or ""),
            bucket=bucket,
            secure=query.get("secure", ["true"])[0].lower() not in {"false", "0", "no"},
            region=query.get("region", [None])[0],
        )


def _b64_sha256(data: bytes | bytearray | memoryview) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _send(
    client: Minio,
    method: str,
    bucket: str,
    key: str | None = None,
    *,
    body: bytes | memoryview | None = None,
    headers: DictType | None = None,
    query: DictType | None = None,
) -> urllib3.BaseHTTPResponse:
    """One signed request that the SDK's public API cannot make (see the module docstring)."""
    return client._execute(
        method,
        bucket,
        key,
        # Annotated `bytes`, but signed and sent as any buffer is: a part goes from the writer's
        # reused buffer without an 8 MiB copy.
        body=body,  # type: ignore[arg-type]
        headers=headers,
        query_params=query,
    )


@contextlib.contextmanager
def _s3_call(what: str) -> Iterator[None]:
    """Translate transport failures into `StoreUnavailable` and missing keys into `ObjectMissing`."""
    try:
        yield
    except S3Error as exc:
        if exc.code in _NOT_FOUND:
            raise ObjectMissing(f"{what}: not in the store ({exc.code})") from exc
        if exc.code in _STORE_DOWN or (exc.response is not None and exc.response.status >= 500):
            raise StoreUnavailable(f"object store failed while {what} ({exc.code})") from exc
        raise
    except ServerError as exc:  # a 5xx without an S3 error document
        raise StoreUnavailable(f"object store failed while {what} (HTTP {exc.status_code})") from exc
    except (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as exc:
        raise StoreUnavailable(f"object store unreachable while {what}") from exc


class _Parts:
    """A store's part buffers, shared by its writers: at most `count` of `size` bytes exist, so
    a deposit's memory is flat in the size and number of its files."""

    def __init__(self, size: int, count: int) -> None:
        self.size = size
        self._free: queue.LifoQueue[bytearray] = queue.LifoQueue()
        self._unmade = count
        self._lock = threading.Lock()
        # Parts upload here while the writer fills its next buffer.
        self.uploads = ThreadPoolExecutor(max_workers=count, thread_name_prefix="s3-part")

    def take(self) -> bytearray:
        """A free buffer; waits for an upload to give one back when all are in use."""
        with self._lock:
            if self._free.empty() and self._unmade:
                self._unmade -= 1
                return bytearray(self.size)
        return self._free.get()

    def give(self, buffer: bytearray) -> None:
        self._free.put(buffer)


class _S3Writer:
    """Fills one part buffer while the one before uploads; small objects go in one PUT, larger
    ones multipart."""

    def __init__(self, store: S3Store, key: str, tags: Mapping[str, str]) -> None:
        self._store = store
        self._key = key
        object_tags = Tags(for_object=True)
        object_tags.update(tags)
        self._headers = genheaders(None, None, object_tags, None, False)
        self._headers["Content-Type"] = "application/octet-stream"
        self._buffer: bytearray | None = None  # taken from the store's parts on the first byte
        self._filled = 0
        self._upload_id: str | None = None
        self._parts: list[tuple[int, str, str]] = []
        self._uploading: Future[None] | None = None

    def write(self, chunk: bytes | memoryview) -> None:
        view = memoryview(chunk)
        while view:
            if self._buffer is None:
                self._buffer, self._filled = self._store.parts.take(), 0
            take = min(len(view), len(self._buffer) - self._filled)
            self._buffer[self._filled : self._filled + take] = view[:take]
            self._filled += take
            view = view[take:]
            if self._filled == len(self._buffer):
                self._send_part()

    def _send_part(self) -> None:
        """Hand the full buffer to an upload thread, once the part before it has gone."""
        self._wait_for_upload()
        if self._upload_id is None:
            headers = dict(self._headers, **{"x-amz-checksum-algorithm": "SHA256"})
            with _s3_call(f"uploading {self._key}"):
                created = _send(
                    self._store.client,
                    "POST",
                    self._store.location.bucket,
                    self._key,
                    headers=headers,
                    query={"uploads": ""},
                )
            self._upload_id = ElementTree.fromstring(created.data).findtext("{*}UploadId")
            if not self._upload_id:
                raise StoreUnavailable(f"object store gave no upload id for {self._key}")
        assert self._buffer is not None
        buffer, filled, self._buffer = self._buffer, self._filled, None
        number = len(self._parts) + 1
        self._uploading = self._store.parts.uploads.submit(self._upload_part, number, buffer, filled)

    def _upload_part(self, number: int, buffer: bytearray, filled: int) -> None:
        try:
            part = memoryview(buffer)[:filled]
            checksum = _b64_sha256(part)
            with _s3_call(f"uploading {self._key}"):
                uploaded = _send(
                    self._store.client,
                    "PUT",
                    self._store.location.bucket,
                    self._key,
                    body=part,
                    headers={"x-amz-checksum-sha256": checksum, "x-amz-sdk-checksum-algorithm": "SHA256"},
                    query={"partNumber": str(number), "uploadId": str(self._upload_id)},
                )
            self._parts.append((number, uploaded.headers.get("etag", "").replace('"', ""), checksum))
        finally:
            self._store.parts.give(buffer)

    def _wait_for_upload(self) -> None:
        uploading, self._uploading = self._uploading, None
        if uploading is not None:
            uploading.result()

    def _release(self) -> None:
        if self._buffer is not None:
            self._store.parts.give(self._buffer)
            self._buffer = None

    def commit(self) -> str | None:
        try:
            return self._complete()
        finally:
            self._release()

    def _complete(self) -> str | None:
        client, bucket = self._store.client, self._store.location.bucket
        if self._upload_id is None:
            part = memoryview(self._buffer or b"")[: self._filled]
            headers = dict(
                self._headers,
                **{
                    "x-amz-sdk-checksum-algorithm": "SHA256",
                    "x-amz-checksum-sha256": _b64_sha256(part),
                    # Write-once: refuse to shadow an existing key with a new version.
                    "If-None-Match": "*",
                },
            )
            try:
                with _s3_call(f"storing {self._key}"):
                    stored = _send(client, "PUT", bucket, self._key, body=part, headers=headers)
            except S3Error as exc:
                if exc.code == "PreconditionFailed":
                    raise ObjectExists(f"{self._key}: already stored") from exc
                raise
            return stored.headers.get("x-amz-version-id")
        if self._filled:
            self._send_part()
        self._wait_for_upload()
        root = ElementTree.Element("CompleteMultipartUpload")
        for number, etag, checksum in sorted(self._parts):
            part_element = ElementTree.SubElement(root, "Part")
            ElementTree.SubElement(part_element, "PartNumber").text = str(number)
            ElementTree.SubElement(part_element, "ETag").text = f'"{etag}"'
            ElementTree.SubElement(part_element, "ChecksumSHA256").text = checksum
        body = ElementTree.tostring(root)
        with _s3_call(f"completing {self._key}"):
            completed = _send(
                client,
                "POST",
                bucket,
                self._key,
                body=body,
                headers={"Content-Type": "application/xml"},
                query={"uploadId": self._upload_id},
            )
        self._upload_id = None
        return completed.headers.get("x-amz-version-id")

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._wait_for_upload()  # its buffer goes back; the upload is aborted below
        self._release()
        if self._upload_id is not None:
            try:
                with _s3_call(f"aborting {self._key}"):
                    self._store._abort_upload(self._key, self._upload_id)
            except (StoreUnavailable, S3Error):
                pass  # `reconcile` aborts uploads left open
        self._filled = 0


class S3Store:
    """Objects in one Object-Lock bucket, one version per key, COMPLIANCE retention."""

    def __init__(self, url: str, *, part_size: int = MIN_PART) -> None:
        self.location = S3Location.parse(url)
        self.url = f"s3://{self.location.endpoint}/{self.location.bucket}"
        self.part_size = max(part_size, MIN_PART)
        self.parts = _Parts(self.part_size, _PART_BUFFERS)
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=3.0, read=120.0),
            retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[502, 503, 504]),
            maxsize=16,
        )
        self.client = Minio(
            self.location.endpoint,
            access_key=self.location.access_key,
            secret_key=self.location.secret_key,
            secure=self.location.secure,
            region=self.location.region,
            http_client=http,
        )

    def ensure_bucket(self) -> None:
        """Create the bucket with Object Lock (and so versioning) if it does not exist."""
        bucket = self.location.bucket
        with _s3_call(f"creating bucket {bucket}"):
            if not self.client.bucket_exists(bucket):
                self.client.make_bucket(bucket, object_lock=True)

    def open_writer(self, key: str, *, tags: Mapping[str, str], durable: bool = True) -> ObjectWriter:
        return _S3Writer(self, key, tags)  # the server has an object durably once it answers the PUT

    def read(
        self, key: str, *, version_id: str | None = None, start: int = 0, length: int | None = None
    ) -> Iterator[bytes]:
        with _s3_call(f"reading {key}"):
            response = self.client.get_object(
                self.location.bucket, key, offset=start, length=length or 0, version_id=version_id
            )
        try:
            with _s3_call(f"reading {key}"):
                yield from response.stream(CHUNK)
        finally:
            response.close()
            response.release_conn()

    def current_version(self, key: str) -> str | None:
        with _s3_call(f"looking up {key}"):
            return self.client.stat_object(self.location.bucket, key).version_id

    def apply_retention(self, key: str, *, version_id: str | None, until: datetime) -> None:
        with _s3_call(f"locking {key}"):
            self.client.set_object_retention(
                self.location.bucket, key, Retention(COMPLIANCE, until), version_id=version_id
            )

    def apply_retention_all(self, items: Sequence[tuple[str, str | None]], *, until: datetime) -> None:
        # One request per version; a few in flight at once, so a deposit waits for the slowest.
        with ThreadPoolExecutor(max_workers=max(1, min(_LOCKERS, len(items)))) as pool:
            list(pool.map(lambda item: self.apply_retention(item[0], version_id=item[1], until=until), items))

    def retained_until(self, key: str, *, version_id: str | None) -> datetime | None:
        # Read from HEAD: not every S3 server implements GetObjectRetention.
        with _s3_call(f"looking up {key}"):
            stat = self.client.stat_object(self.location.bucket, key, version_id=version_id)
        value = stat.metadata.get("x-amz-object-lock-retain-until-date") if stat.metadata else None
        if not value:
            return None
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        with _s3_call(f"listing {prefix}"):
            for item in self.client.list_objects(self.location.bucket, prefix=prefix, recursive=True):
                if item.object_name and item.last_modified:
                    yield ObjectInfo(key=item.object_name, modified_at=item.last_modified)

    def list_pending(self, prefix: str) -> Iterator[ObjectInfo]:
        # One page (up to 1000) per call: aborted uploads leave the listing, so the next
        # reconcile run sees the rest.
        with _s3_call(f"listing uploads under {prefix}"):
            result = ListMultipartUploadsResult(
                _send(
                    self.client,
                    "GET",
                    self.location.bucket,
                    query={"uploads": "", "prefix": prefix, "encoding-type": "url"},
                )
            )
        for upload in result.uploads:
            if upload.upload_id and upload.initiated_time:
                yield ObjectInfo(upload.object_name, upload.initiated_time, upload.upload_id)

    def _abort_upload(self, key: str, upload_id: str) -> None:
        """Abort an unfinished multipart upload; the server drops the parts it holds."""
        _send(self.client, "DELETE", self.location.bucket, key, query={"uploadId": upload_id})

    def discard(self, item: ObjectInfo) -> str:
        bucket, key = self.location.bucket, item.key
        if item.upload_id is not None:
            with _s3_call(f"aborting the upload of {key}"):
                self._abort_upload(key, item.upload_id)
            return "unfinished upload aborted"
        locked = 0
        with _s3_call(f"discarding {key}"):
            versions = list(self.client.list_objects(bucket, prefix=key, include_version=True))
            for version in versions:
                if version.object_name != key or version.is_delete_marker:
                    continue
                try:
                    self.client.remove_object(bucket, key, version_id=version.version_id)
                except S3Error:
                    locked += 1
            if locked:
                # A COMPLIANCE-locked version cannot be deleted before its date; a delete
                # marker hides it so that nothing can read it as if it were archived.
                self.client.remove_object(bucket, key)
                return f"hidden behind a delete marker ({locked} locked version(s) kept until expiry)"
        return "removed"

    def set_legal_hold(self, key: str, *, version_id: str | None, on: bool) -> None:
        with _s3_call(f"{'holding' if on else 'releasing the hold on'} {key}"):
            if on:
                self.client.enable_object_legal_hold(self.location.bucket, key, version_id=version_id)
            else:
                self.client.disable_object_legal_hold(self.location.bucket, key, version_id=version_id)

    def legal_hold(self, key: str, *, version_id: str | None) -> bool:
        with _s3_call(f"looking up the legal hold of {key}"):
            return bool(
                self.client.is_object_legal_hold_enabled(self.location.bucket, key, version_id=version_id)
            )

    def destroy(self, key: str) -> int:
        bucket = self.location.bucket
        with _s3_call(f"listing the versions of {key}"):
            versions = [
                v
                for v in self.client.list_objects(bucket, prefix=key, include_version=True)
                if v.object_name == key  # the prefix also matches longer keys
            ]
        # Every version is checked before any is removed, so a refusal leaves the key whole.
        now = datetime.now(UTC)
        for version in versions:
            if version.is_delete_marker:
                continue
            if self.legal_hold(key, version_id=version.version_id):
                raise RetentionLocked(f"{key}: version {version.version_id} is under a legal hold")
            until = self.retained_until(key, version_id=version.version_id)
            if until is not None and until > now:
                raise RetentionLocked(
                    f"{key}: version {version.version_id} retained until {until.date().isoformat()}"
                )
        for version in versions:
            try:
                with _s3_call(f"destroying {key}"):
                    self.client.remove_object(bucket, key, version_id=version.version_id)
            except S3Error as exc:
                # The server's lock is the last word: a hold placed or a clock behind since the
                # check. What went stays gone; the rest waits for the next run.
                raise RetentionLocked(f"{key}: the store refused ({exc.code}); try again later") from exc
        return len(versions)
