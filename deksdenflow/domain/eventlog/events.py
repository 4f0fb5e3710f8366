"""Events: the immutable facts that every status in dflow is derived from.

An event's `data` is the payload model of its `type` (domain/eventlog/payloads.py): a union
discriminated by `type`, chosen when the event is built or read, so data of the wrong shape
never gets past `Event(...)` / `Event.model_validate_json(...)`.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ..plain import EVENT_SCHEMA_VERSION
from .event_types import EventType
from .payloads import PAYLOADS, EventData, Payload

# 2: typed payloads; run.note says `text` (schema 1 also wrote `reason`), store/encoding/codec.py.

P = TypeVar("P", bound=Payload)

__all__ = ["EVENT_SCHEMA_VERSION", "Event", "EventType", "ordered"]


class Event(BaseModel):
    """One fact. Ordered by (lamport, id) everywhere."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)  # see payloads

    schema_version: int = EVENT_SCHEMA_VERSION
    id: str = Field(description="ULID: sortable and unique across machines")
    lamport: int = Field(ge=0, description="Lamport clock: max seen on this ref + 1")
    actor: str = Field(description="who: user@host, worker:<id>@host, or ci:<provider>:<job>")
    at: datetime = Field(description="wall time, UTC; informative only, never used for order")
    run: str | None = Field(default=None, description="uid of the protocol run, if any")
    step: int | None = Field(default=None, description="step index within the run, if any")
    type: EventType
    data: EventData = Field(default_factory=dict, validate_default=True,
                            description="the payload model of `type` (domain/eventlog/payloads.py)")

    @field_validator("data", mode="before")
    @classmethod
    def _payload_of_its_type(cls, data: Any, info: ValidationInfo) -> Any:
        """`data` as the model of the event's `type` (validated just before it): the
        discriminator lives beside the payload, so files keep their shape."""
        kind = info.data.get("type")
        if kind is None:
            raise ValueError("the event's type is not known, so its data cannot be read")
        model = PAYLOADS[kind]
        if isinstance(data, model):
            return data
        if isinstance(data, Payload):
            name = builtins.type(data).__name__
            raise ValueError(f"{name} is not the data of a {kind.value} event")
        return model.model_validate(data)

    @property
    def order_key(self) -> tuple[int, str]:
        return (self.lamport, self.id)

    def payload(self, model: builtins.type[P]) -> P:
        """`data` as the model the caller expects (a mismatch is a bug, not bad data)."""
        if not isinstance(self.data, model):
            raise TypeError(f"{self.type.value} carries {builtins.type(self.data).__name__}, "
                            f"not {model.__name__}")
        return self.data


def ordered(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.lamport, e.id))
