"""Every recorded event class, named once.

The library's `@event` decorator makes each event class (Workshop.Scheduled,
Idea.Submitted, ...) at import time, out of a type checker's sight; the read
models and the application refer to them through these names.
"""

from __future__ import annotations

from typing import Any, cast

from .ballot import Ballot
from .idea import Idea
from .initiative import Initiative
from .owner import Owner
from .participant import Participant
from .programme import Programme
from .project import Project
from .signup import SignUp
from .workshop import Workshop


def _event(aggregate: type, name: str) -> type[Any]:
    return cast(type[Any], vars(aggregate)[name])


BALLOT_CAST = _event(Ballot, "Cast")
BALLOT_REVISED = _event(Ballot, "Revised")
IDEA_EDITED = _event(Idea, "Edited")
IDEA_GROUPED = _event(Idea, "Grouped")
IDEA_LINKED = _event(Idea, "LinkedToEarlier")
IDEA_MERGED = _event(Idea, "MergedAsDuplicate")
IDEA_SUBMITTED = _event(Idea, "Submitted")
IDEA_WITHDRAWN = _event(Idea, "Withdrawn")
ADOPTED = _event(Initiative, "Adopted")
ADOPTED_IN_REGION = _event(Initiative, "AdoptedInRegion")
BENEFIT_RECORDED = _event(Initiative, "BenefitRecorded")
FLAGGED_STALE = _event(Initiative, "FlaggedStale")
FOLLOW_UP_LINKED = _event(Initiative, "FollowUpLinked")
MILESTONE_COMPLETED = _event(Initiative, "MilestoneCompleted")
MILESTONE_OVERDUE = _event(Initiative, "MilestoneOverdue")
MILESTONE_PLANNED = _event(Initiative, "MilestonePlanned")
MILESTONE_RESCHEDULED = _event(Initiative, "MilestoneRescheduled")
OWNER_ASSIGNED = _event(Initiative, "OwnerAssigned")
PROGRESS_REPORTED = _event(Initiative, "ProgressReported")
REMINDER_SENT = _event(Initiative, "ReminderSent")
REVIEW_SCHEDULED = _event(Initiative, "BenefitsReviewScheduled")
STAGE_CHANGED = _event(Initiative, "StageChanged")
OWNER_ERASED = _event(Owner, "Erased")
OWNER_REGISTERED = _event(Owner, "Registered")
ERASED = _event(Participant, "Erased")
JOINED = _event(Participant, "Joined")
LAUNCHED = _event(Programme, "Launched")
PROGRAMME_CLOSED = _event(Programme, "Closed")
WORKSHOP_PLACED = _event(Programme, "WorkshopScheduled")
PROJECT_PROPOSED = _event(Project, "Proposed")
PROJECT_REVISED = _event(Project, "Revised")
SIGNED_UP = _event(SignUp, "SignedUp")
SWITCHED_GROUP = _event(SignUp, "SwitchedGroup")
BRIEFING_PUBLISHED = _event(Workshop, "BriefingPublished")
CRITERIA_ADOPTED = _event(Workshop, "CriteriaAdopted")
GROUP_CAPACITY_SET = _event(Workshop, "GroupCapacitySet")
KEY_AREAS_MERGED = _event(Workshop, "KeyAreasMerged")
KEY_AREA_DEFINED = _event(Workshop, "KeyAreaDefined")
KEY_AREA_RENAMED = _event(Workshop, "KeyAreaRenamed")
PHASE_CLOSED = _event(Workshop, "PhaseClosed")
PHASE_EXTENDED = _event(Workshop, "PhaseExtended")
PHASE_OPENED = _event(Workshop, "PhaseOpened")
PHASE_PAUSED = _event(Workshop, "PhasePaused")
PHASE_RESUMED = _event(Workshop, "PhaseResumed")
PITCH_ENDED = _event(Workshop, "PitchSlotEnded")
PITCH_STARTED = _event(Workshop, "PitchSlotStarted")
RESULTS_DECLARED = _event(Workshop, "ResultsDeclared")
SCHEDULED = _event(Workshop, "Scheduled")
