"""Temporal workflows and their activities: time and process, never domain facts.

A workflow decides *when* something should happen (a phase's timer runs out,
a facilitator extends or pauses it); every effect is an activity that calls
the workshop application, and every activity is idempotent, so a retry never
records anything twice. This package imports only `domain`; the services
layer hands it the application object (typed here by a Protocol).

- `workflows.agenda`: the `WorkshopAgenda` workflow and its models.
- `workflows.activities`: `AgendaActivities`, the activities as methods.
- `workflows.worker`: `build_worker`, `start_agenda`, `connect`.
- `workflows.campaign`, `campaign_activities`, `campaign_worker`: the
  `ProgrammeCampaign` that briefs, runs and follows up a programme's workshops.
- `workflows.delivery`, `delivery_activities`, `delivery_worker`: one
  `InitiativeDelivery` per initiative (reminders, overdue and stale flags,
  progress requests, benefits review), continuing as new to stay bounded.
- `workflows.notifier`: the `Notifier` port reminders go through.
"""
