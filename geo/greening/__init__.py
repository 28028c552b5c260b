"""Greening of the priority roads (津北公路, 先锋东路): tasks, plans, records and progress.

Modules: :mod:`~geo.greening.tasks` (the task table and its seasons), :mod:`~geo.greening.files`
(work records and plans read from spreadsheets, stake marks to chainage),
:mod:`~geo.greening.progress` (done lengths along each road and side, by chainage), and
:mod:`~geo.greening.views`, the use cases the CLI and the pages call (imports of plans
and records, progress tables and sections).
"""

__all__ = ["files", "progress", "tasks", "views"]
