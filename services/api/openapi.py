"""The OpenAPI document: every error answer documented as problem+json.

FastAPI documents 422 as its own validation shape; our handlers answer with
RFC 9457 problems instead, so the document says so (and lists the other error
statuses a route can give), letting clients and schema checkers rely on it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from .problems import PROBLEM


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An error, as `application/problem+json` (RFC 9457)."""

    type: str = Field(examples=["https://quickwins.dev/problems/invalid-input"])
    title: str = Field(examples=["Invalid input"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["text: the text is empty"])
    field: str | None = Field(default=None, description="the input at fault", examples=["text"])
    errors: list[FieldError] | None = Field(default=None, description="every invalid field")


ERRORS = {
    "400": "Bad request (an unusable header)",
    "401": "No token, or an unknown or revoked one",
    "403": "Your role or your token's scope does not allow this",
    "404": "No such workshop, idea, project, programme or initiative",
    "409": "The current state does not allow it (wrong phase, already done, group full)",
    "422": "Invalid input: the problem names the field",
    "503": "A server this needs (Temporal) is not configured",
}
_REF = {"$ref": "#/components/schemas/Problem"}
_ID = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
_OTHER = "6fa459ea-ee8a-3ca4-894e-db77e160355e"

# One example per request body that does not carry its own (the domain's command
# models stay free of documentation concerns).
EXAMPLES: dict[str, dict[str, Any]] = {
    "ScheduleWorkshop": {
        "code": "SW-2010-07",
        "title": "South West housing strategy day",
        "region": "South West",
        "venue": "Exeter",
        "starts_at": "2010-07-02T09:30:00+01:00",
        "agenda": {
            "phases": [
                {"kind": "briefing", "minutes": 15},
                {"kind": "brainstorm", "minutes": 30},
                {"kind": "grouping", "minutes": 20},
                {"kind": "signup", "minutes": 45},
                {"kind": "discussion", "minutes": 40},
                {"kind": "pitches", "minutes": 20},
                {"kind": "vote", "minutes": 10},
                {"kind": "closed", "minutes": 0},
            ]
        },
        "voting": {"method": "approval"},
    },
    "LaunchProgramme": {
        "name": "Regional housing quick wins 2010",
        "sponsor": "Housing directors' network",
        "regions": ["South West", "Wales", "North West"],
    },
    "TokenRequest": {"role": "facilitator", "name": "South West facilitator", "workshops": [_ID]},
    "SignUp": {"key_area_id": _ID},
    "ProjectRevision": {
        "title": "Tenant front door",
        "summary": "One number for every housing question",
        "idea_ids": [_ID],
        "co_proposer_ids": [],
    },
    "Briefing": {"text": "Today we look for quick wins our teams can deliver in 90 days."},
    "KeyAreaName": {"name": "Customer access"},
    "KeyAreaMerge": {"into": _OTHER},
    "Capacity": {"capacity": 8},
    "Grouping": {"key_area_id": _ID},
    "IdeaMerge": {"target_id": _OTHER},
    "EarlierLink": {"earlier_id": _OTHER},
    "PitchSlot": {"project_id": _ID},
    "AgendaStart": {"time_scale": 1.0},
    "Extension": {"minutes": 5},
    "Criteria": {
        "criteria": [
            {"name": "quick to implement", "weight": 2.0},
            {"name": "low cost", "weight": 1.0},
        ]
    },
    "MilestoneMove": {"due": "2010-10-01T00:00:00Z", "reason": "the contractor starts later"},
    "FollowUp": {"workshop_id": _ID},
    "Region": {"region": "Wales"},
    "Result": {
        "method": "approval",
        "counted_up_to": 412,
        "ballots_counted": 30,
        "ballots_ignored": 0,
        "digest": "9f2c…",
        "totals": [],
        "ranking": [],
        "winners": [],
    },
}


def install(api: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = _document(api)
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]


def _document(api: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=api.title, version=api.version, description=api.description, routes=api.routes
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas["FieldError"] = FieldError.model_json_schema()
    schemas["Problem"].pop("$defs", None)
    for name, example in EXAMPLES.items():
        if name in schemas and not schemas[name].get("examples"):
            schemas[name]["examples"] = [example]
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    for path in document.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERRORS.items():
                responses[status] = {
                    "description": description,
                    "content": {PROBLEM: {"schema": _REF}},
                }
    return document
