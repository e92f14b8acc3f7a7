from enum import Enum


class AssetEventKind(str, Enum):
    SNAPSHOT = "SNAPSHOT"
    UPDATED = "UPDATED"
    DELETED = "DELETED"
    JOB_COMPLETED = "JOB_COMPLETED"
    JOB_FAILED = "JOB_FAILED"
    JOB_CANCELLED = "JOB_CANCELLED"


class AssetKind(str, Enum):
    VIDEO = "VIDEO"
    AUDIO = "AUDIO"
    IMAGE = "IMAGE"
    TEXT = "TEXT"


class AssetOrderField(str, Enum):
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"
    TITLE = "TITLE"


class AssetStatus(str, Enum):
    REGISTERED = "REGISTERED"
    PROCESSING = "PROCESSING"
    READY = "READY"
    FAILED = "FAILED"
    DELETED = "DELETED"


class BreakerState(str, Enum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class DetectionKind(str, Enum):
    LABEL = "LABEL"
    FACE = "FACE"
    TEXT = "TEXT"


class DuplicateAction(str, Enum):
    MARK_DUPLICATES = "MARK_DUPLICATES"
    NOT_DUPLICATES = "NOT_DUPLICATES"


class JobProgressEventKind(str, Enum):
    SNAPSHOT = "SNAPSHOT"
    JOB_QUEUED = "JOB_QUEUED"
    STAGE_STARTED = "STAGE_STARTED"
    PROGRESS = "PROGRESS"
    STAGE_COMPLETED = "STAGE_COMPLETED"
    STAGE_RETRYING = "STAGE_RETRYING"
    STAGE_FAILED = "STAGE_FAILED"
    STAGE_CANCELLED = "STAGE_CANCELLED"
    JOB_COMPLETED = "JOB_COMPLETED"
    JOB_FAILED = "JOB_FAILED"
    JOB_CANCELLED = "JOB_CANCELLED"


class JobStatus(str, Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class OrderDirection(str, Enum):
    ASC = "ASC"
    DESC = "DESC"


class PipelineStage(str, Enum):
    PROBE = "PROBE"
    TEXT = "TEXT"
    SCENES = "SCENES"
    TRANSCRIBE = "TRANSCRIBE"
    OCR = "OCR"
    DETECT = "DETECT"
    EMBED = "EMBED"
    SIMILARITY = "SIMILARITY"
    INDEX = "INDEX"


class SearchFacetField(str, Enum):
    KIND = "KIND"
    TAGS = "TAGS"
    LABELS = "LABELS"
    LANGUAGE = "LANGUAGE"


class SearchHitKind(str, Enum):
    MOMENT = "MOMENT"
    ASSET = "ASSET"


class SearchMode(str, Enum):
    TEXT = "TEXT"
    SEMANTIC = "SEMANTIC"
    HYBRID = "HYBRID"


class SearchRetriever(str, Enum):
    TEXT = "TEXT"
    VECTOR_TEXT = "VECTOR_TEXT"
    VECTOR_VISUAL = "VECTOR_VISUAL"
    VECTOR_BRIDGE = "VECTOR_BRIDGE"
    VECTOR_CLIP = "VECTOR_CLIP"


class SearchScope(str, Enum):
    MOMENT = "MOMENT"
    ASSET = "ASSET"


class SearchTextField(str, Enum):
    TITLE = "TITLE"
    DESCRIPTION = "DESCRIPTION"
    TAGS = "TAGS"
    LABELS = "LABELS"
    TRANSCRIPT = "TRANSCRIPT"
    OCR = "OCR"


class SimilarityKind(str, Enum):
    NEAR_DUPLICATE = "NEAR_DUPLICATE"
    VISUAL = "VISUAL"
    SEMANTIC = "SEMANTIC"


class StageStatus(str, Enum):
    PENDING = "PENDING"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CANCELLED = "CANCELLED"


class UserErrorCode(str, Enum):
    NOT_FOUND = "NOT_FOUND"
    PATH_NOT_ALLOWED = "PATH_NOT_ALLOWED"
    UNREADABLE_FILE = "UNREADABLE_FILE"
    EMPTY_FILE = "EMPTY_FILE"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    UNSUPPORTED_MEDIA = "UNSUPPORTED_MEDIA"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    INVALID_INPUT = "INVALID_INPUT"
    INVALID_STATE = "INVALID_STATE"
    BACKPRESSURE = "BACKPRESSURE"
    MALFORMED_ID = "MALFORMED_ID"
    WRONG_ID_TYPE = "WRONG_ID_TYPE"
    BATCH_TOO_LARGE = "BATCH_TOO_LARGE"
    URL_NOT_ALLOWED = "URL_NOT_ALLOWED"
    FETCH_FAILED = "FETCH_FAILED"
    RATE_LIMITED = "RATE_LIMITED"
    FORBIDDEN = "FORBIDDEN"


class WebhookDeliveryStatus(str, Enum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    DEAD = "DEAD"
