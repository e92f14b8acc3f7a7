"""Errors raised by the model layer.

Permanent errors (bad input, a model that is not configured, media that cannot be decoded)
derive from :class:`PermanentInferenceError` so job actors can list them in ``throws=`` and not
retry; :class:`BackendUnavailableError` is transient and worth a retry or a fallback.
"""

from __future__ import annotations


class InferenceError(Exception):
    """Base class of every error raised by ``inference``."""


class PermanentInferenceError(InferenceError):
    """Retrying the same call cannot succeed."""


class UnknownModelError(PermanentInferenceError):
    """No model with that name, version or task is registered."""


class ModelNotConfiguredError(PermanentInferenceError):
    """The task needs a model that settings do not provide (for example CLIP without a directory)."""


class ContractError(PermanentInferenceError):
    """Inputs or outputs do not match the model's declared tensor contract."""


class MediaError(PermanentInferenceError):
    """A media file cannot be decoded or lacks what was asked for."""


class NoAudioStreamError(MediaError):
    """The container has no audio stream."""


class NoVideoStreamError(MediaError):
    """The container has no video stream."""


class TextExtractionError(PermanentInferenceError):
    """A document cannot be turned into text (encrypted or malformed PDF, unknown type)."""


class BackendUnavailableError(InferenceError):
    """The backend cannot serve the model right now (transient)."""
