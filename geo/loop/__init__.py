"""The closed loop (立案 → 派遣 → 处置 → 核查 → 结案) and the accountability it is measured by.

Modules: :mod:`~geo.loop.workflow` (transitions, deadlines, merges, under row locks),
:mod:`~geo.loop.users` (roles, accounts, who may see and do what),
:mod:`~geo.loop.metrics` (on-time and rework rates per department and place),
:mod:`~geo.loop.coverage` (inspection coverage of frontage units and cells),
:mod:`~geo.loop.counts` (issue counts over filters), and :mod:`~geo.loop.views`, the use
cases the CLI and the pages call (league, weekly report, plan tasks, coverage).
"""

__all__ = ["counts", "coverage", "metrics", "users", "views", "workflow"]
