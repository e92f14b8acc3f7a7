from datetime import datetime
from typing import Optional

from pydantic import Field

from .base_model import BaseModel
from .enums import BreakerState


class SystemStatus(BaseModel):
    system_status: "SystemStatusSystemStatus" = Field(alias="systemStatus")


class SystemStatusSystemStatus(BaseModel):
    checked_at: datetime = Field(alias="checkedAt")
    queues: list["SystemStatusSystemStatusQueues"]
    workers_alive: int = Field(alias="workersAlive")
    workers: list["SystemStatusSystemStatusWorkers"]
    models_loaded: list["SystemStatusSystemStatusModelsLoaded"] = Field(
        alias="modelsLoaded"
    )
    backends: list["SystemStatusSystemStatusBackends"]
    breakers: list["SystemStatusSystemStatusBreakers"]
    routing: list["SystemStatusSystemStatusRouting"]


class SystemStatusSystemStatusQueues(BaseModel):
    name: str
    depth: int
    oldest_message_age_seconds: float = Field(alias="oldestMessageAgeSeconds")
    dead_letters: int = Field(alias="deadLetters")


class SystemStatusSystemStatusWorkers(BaseModel):
    id: str
    last_seen_seconds_ago: float = Field(alias="lastSeenSecondsAgo")
    models_loaded: list[str] = Field(alias="modelsLoaded")


class SystemStatusSystemStatusModelsLoaded(BaseModel):
    name: str
    version: str
    workers: int


class SystemStatusSystemStatusBackends(BaseModel):
    name: str
    healthy: Optional[bool]
    detail: str


class SystemStatusSystemStatusBreakers(BaseModel):
    worker: str
    backend: str
    state: BreakerState


class SystemStatusSystemStatusRouting(BaseModel):
    task: str
    queue: str
    model: str
    escalates_to: Optional[str] = Field(alias="escalatesTo")
    escalation_rule: Optional[str] = Field(alias="escalationRule")
    escalation: Optional[str]
    upgrades_to: Optional[str] = Field(alias="upgradesTo")


SystemStatus.model_rebuild()
SystemStatusSystemStatus.model_rebuild()
