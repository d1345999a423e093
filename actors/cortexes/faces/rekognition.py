"""The face cortex's cloud backend: AWS Rekognition CompareFaces through aiobotocore.

Credentials and region come from the standard AWS chain (environment, profile, role);
`endpoint_url` points it elsewhere (moto, a test server). Calls run on the cortex's
AsyncWorker with bounded concurrency and timeouts. Credentials are never logged.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from PIL import Image

from actors.models.detection import iou

__all__ = ["RekognitionBackend", "explain", "match_faces"]

MAX_IMAGE_BYTES = 5 * 1024 * 1024  # Rekognition's limit for image bytes
_THROTTLED = {"ThrottlingException", "ProvisionedThroughputExceededException", "LimitExceededException"}


def _box(bounding: dict) -> tuple[float, float, float, float]:
    left, top = bounding.get("Left", 0.0), bounding.get("Top", 0.0)
    return (left, top, left + bounding.get("Width", 0.0), top + bounding.get("Height", 0.0))


def match_faces(faces: list, answers: dict[str, dict], min_iou: float = 0.3) -> list[tuple[str | None, float, Any]]:
    """Name our detected faces from CompareFaces answers (one per reference name).

    Each of our faces takes the reference whose matched face is the same face (boxes
    overlap by IoU ≥ min_iou, or our face's centre lies inside theirs: detectors draw
    face boxes of different tightness) with the highest similarity; faces no reference
    matched stay unknown (None).
    """
    named = []
    for face in faces:
        best, best_similarity = None, 0.0
        for name, answer in answers.items():
            for match in answer.get("FaceMatches", []):
                box = _box(match.get("Face", {}).get("BoundingBox", {}))
                similarity = float(match.get("Similarity", 0.0))
                centre_x, centre_y = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
                same = iou(face.box, box) >= min_iou or (box[0] <= centre_x <= box[2] and box[1] <= centre_y <= box[3])
                if same and similarity > best_similarity:
                    best, best_similarity = name, similarity
        named.append((best, best_similarity / 100.0, face))
    return named


def explain(exc: Exception, params) -> str:
    """A sentence for the eye about a failed Rekognition call."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _THROTTLED or status == 429:
            return "Rekognition is throttling requests; faces will be compared again on a later frame."
        if status >= 500:
            return f"Rekognition had an internal error (HTTP {status}); faces will be compared again on a later frame."
        if code in ("UnrecognizedClientException", "InvalidSignatureException", "AccessDeniedException"):
            return f"Rekognition refused the AWS credentials ({code}); check them and the region."
        message = exc.response.get("Error", {}).get("Message", "")
        return f"Rekognition refused the request ({code}: {message})."
    if isinstance(exc, (asyncio.TimeoutError, ReadTimeoutError, ConnectTimeoutError)):
        return (
            f"Rekognition did not answer within {params.timeout_s:g} s; faces will be compared again on a later frame."
        )
    if isinstance(exc, NoCredentialsError):
        return (
            "No AWS credentials were found for Rekognition; set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or an AWS profile."
        )
    if isinstance(exc, EndpointConnectionError):
        return f"Could not reach Rekognition ({exc}); check the cortex's endpoint_url and the network."
    if isinstance(exc, (BotoCoreError, OSError)):
        return f"The Rekognition call failed ({type(exc).__name__}: {exc})."
    return f"The Rekognition call failed ({type(exc).__name__})."


def _rekognition_bytes(data: bytes) -> bytes:
    """JPEG or PNG under 5 MB, as CompareFaces wants; anything else is re-encoded."""
    if (data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG")) and len(data) <= MAX_IMAGE_BYTES:
        return data
    image = Image.open(io.BytesIO(data)).convert("RGB")
    image.thumbnail((1920, 1920))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


class RekognitionBackend:
    def __init__(self, params, cortex):
        self.params = params
        self.cortex = cortex
        self.worker = cortex.async_worker()
        self.references: dict[str, bytes] | None = None
        self.loading_error = ""
        self._client = None
        self._client_context = None
        self._pending_frame = None
        if not params.references:
            raise ValueError('the rekognition backend needs references = { Name = "photo.jpg" or "s3://bucket/key" }')
        for name, where in params.references.items():
            if not isinstance(where, str) or not where:
                raise ValueError(f"references.{name} must be a local path or s3://bucket/key")
        self.worker.submit(self._load_references, tag=("references",))

    def _config(self) -> AioConfig:
        return AioConfig(
            connect_timeout=self.params.timeout_s,
            read_timeout=self.params.timeout_s,
            retries={"max_attempts": 1},
            max_pool_connections=self.params.max_concurrency,
        )

    def _client_args(self) -> dict:
        args: dict = {"config": self._config()}
        if self.params.region:
            args["region_name"] = self.params.region
        if self.params.endpoint_url:
            args["endpoint_url"] = self.params.endpoint_url
        return args

    async def _rekognition(self):
        if self._client is None:
            self._client_context = get_session().create_client("rekognition", **self._client_args())
            self._client = await self._client_context.__aenter__()
        return self._client

    async def _load_references(self) -> dict[str, bytes]:
        loaded: dict[str, bytes] = {}
        s3_refs = {n: w for n, w in self.params.references.items() if w.startswith("s3://")}
        for name, where in self.params.references.items():
            if name not in s3_refs:
                loaded[name] = _rekognition_bytes(Path(where).read_bytes())
        if s3_refs:
            async with get_session().create_client("s3", **self._client_args()) as s3:
                for name, where in s3_refs.items():
                    bucket, _, key = where[len("s3://") :].partition("/")
                    response = await asyncio.wait_for(s3.get_object(Bucket=bucket, Key=key), self.params.timeout_s)
                    async with response["Body"] as body:
                        loaded[name] = _rekognition_bytes(await body.read())
        return loaded

    async def _compare_all(self, target: bytes) -> dict[str, dict]:
        client = await self._rekognition()
        limit = asyncio.Semaphore(self.params.max_concurrency)

        async def one(source: bytes) -> dict:
            async with limit:
                return await asyncio.wait_for(
                    client.compare_faces(
                        SourceImage={"Bytes": source},
                        TargetImage={"Bytes": target},
                        SimilarityThreshold=self.params.similarity_threshold,
                    ),
                    self.params.timeout_s * 1.5,
                )

        names = list(self.references)
        answers = await asyncio.gather(*(one(self.references[n]) for n in names))
        return dict(zip(names, answers))

    def compare(self, frame) -> None:
        """Compare the frame's faces with every reference; the cortex hears back in on_cloud_result."""
        if self.loading_error:
            self.cortex.on_cloud_result(frame, None, self.loading_error)
        elif self.references is None:
            self._pending_frame = frame  # compared as soon as the references are in
        else:
            target = _rekognition_bytes(frame.jpeg)
            self.worker.submit(lambda: self._compare_all(target), tag=("compare", frame))

    def on_result(self, tag: tuple, result: Any, error: Exception | None) -> None:
        if tag[0] == "references":
            if error is not None:
                # A local photo that cannot be read is no Rekognition failure: say what the OS said.
                local = isinstance(error, OSError) and not isinstance(error, TimeoutError)
                reason = f"({error})." if local else f": {explain(error, self.params)}"
                self.loading_error = f"The Rekognition reference photos could not be loaded{reason}"
                self.cortex.error(self.loading_error, {"backend": "rekognition"})
            else:
                self.references = result
            if self._pending_frame is not None:
                frame, self._pending_frame = self._pending_frame, None
                self.compare(frame)
            return
        frame = tag[1]
        if error is not None:
            self.cortex.on_cloud_result(frame, None, explain(error, self.params))
        else:
            self.cortex.on_cloud_result(frame, match_faces(frame.faces, result))

    def close(self) -> None:
        if self._client_context is not None:
            try:
                self.worker.run(lambda: self._client_context.__aexit__(None, None, None), 5)
            except Exception:
                pass
