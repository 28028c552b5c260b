"""The closed loop (立案 → 派遣 → 处置 → 核查 → 结案) and the accountability it is measured by.

Modules: :mod:`~geo.loop.workflow` (transitions, deadlines, merges, the departments' requests, under row locks),
:mod:`~geo.loop.suggest` (whom to dispatch to, which open issue a report may duplicate),
:mod:`~geo.loop.users` (roles, accounts, who may see and do what),
:mod:`~geo.loop.metrics` (on-time and rework rates per department and place),
:mod:`~geo.loop.coverage` (inspection coverage of frontage units and cells),
:mod:`~geo.loop.counts` (issue counts over filters), and the use cases the CLI and the pages call:
:mod:`~geo.loop.views` (league, weekly report, plan tasks, coverage), :mod:`~geo.loop.triage` (the
dispatcher's inbox and desk) and :mod:`~geo.loop.crew` (a department's queue and zones).
"""

__all__ = ["counts", "coverage", "crew", "metrics", "suggest", "triage", "users", "views", "workflow"]
