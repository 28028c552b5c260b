"""Event categories, departments, plan tasks and deadline rules — all as data.

Everything here is read from CSV files in ``geo/data/`` (once, then cached):

``event_codes.csv``
    The urban-management event classes 06–10 of GB/T 47678.5-2026 (城市运行管理服务
    平台 第5部分：管理部件和事项): 5-digit code = 2-digit major class + 3-digit minor
    class. The list comes from a third-party transcription of the standard's annex
    (06031 and 07005 are missing from it), so every loaded category carries the
    standard's name and year, and a later correction is a data change.
``category_rules.csv``
    Per code: lead department, supporting departments, the plan tasks it serves and
    its deadline rule (``same_day`` — garbage is cleared the day it appears, 日产日清 —
    or ``working_days`` with a number of working days).
``departments.csv``
    The responsible departments (责任科室) of the plan, the communities, and the two
    integrated-sanitation contractor zones (children of ``sanitation``).
``plan_tasks.csv``
    The 24 tasks of the 2025 plan, with lead and supporting departments.
``related_categories.csv``
    Groups of categories people report one problem under interchangeably (暴露垃圾,
    积存垃圾渣土, 垃圾站满溢 …): a report near an open issue of the same group is offered
    to the dispatcher as its possible duplicate. A category belongs to one group at most.
``category_synonyms.csv``
    Free text seen in 12345 hotline exports (``小广告``, ``垃圾桶满溢`` …) → code.
``legacy_codes.csv``
    A small crosswalk from the older CJ/T 214-2007 (4-digit) and GB/T 30428.2-2013
    (5-digit, major classes 01–05) event codes that district platforms may still
    send. It was compiled from third-party material, not the official texts: verify
    every row against the standards before relying on it, and extend it the same way.

Department and task codes in the CSVs are ``;``-separated lists.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

import pandas as pd

from geo import workdays
from geo.errors import ConfigError, NotFoundError, ValidationError

STANDARD = "GB/T 47678.5"
STANDARD_YEAR = 2026
DEADLINE_KINDS = ("same_day", "working_days")
DEPARTMENT_KINDS = ("office", "community", "contractor")
DATA_DIR = Path(__file__).resolve().parent / "data"

_CODE_RE = re.compile(r"\d{5}")
# A case code (事项代码) is the 6-digit administrative division code + the 5-digit code.
_CASE_CODE_RE = re.compile(r"\d{11}")
_SUGGESTIONS = 3


def _normalise(text: str) -> str:
    """Fold full-width forms (NFKC) and drop whitespace and punctuation.

    So ``"垃圾站(箱) 满溢"``, ``"垃圾站（箱）满溢"`` and ``"０６０４２"`` meet their
    entries whatever the typing habits of the person who filled the form.
    """
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] not in "PZC")


def _read(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise ConfigError(f"taxonomy file {str(path)!r} is missing")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False).apply(lambda c: c.str.strip())
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(f"{path.name}: missing column(s) {', '.join(missing)}")
    return frame[list(columns)]


def _split(values: pd.Series) -> pd.Series:
    """``"a;b"`` → ``("a", "b")``; empty → ``()``."""
    return values.map(lambda v: tuple(p.strip() for p in v.split(";") if p.strip()))


def _check_known(file: str, column: str, values: pd.Series, known: pd.Index, what: str) -> None:
    flat = values.explode().dropna()
    bad = flat[~flat.isin(known)]
    if len(bad):
        raise ConfigError(f"{file}: {column} names unknown {what} {bad.iloc[0]!r}")


def _task_numbers(file: str, values: pd.Series) -> pd.Series:
    parts = _split(values)
    flat = parts.explode().dropna()
    bad = flat[~flat.str.fullmatch(r"\d+")]
    if len(bad):
        raise ConfigError(f"{file}: plan task {bad.iloc[0]!r} is not a number")
    return parts.map(lambda t: tuple(int(p) for p in t))


def _load_departments(data_dir: Path) -> pd.DataFrame:
    deps = _read(data_dir / "departments.csv", ("code", "name", "name_en", "kind", "parent"))
    dup = deps["code"][deps["code"].duplicated()]
    if len(dup):
        raise ConfigError(f"departments.csv: code {dup.iloc[0]!r} appears twice")
    bad_kind = deps["kind"][~deps["kind"].isin(DEPARTMENT_KINDS)]
    if len(bad_kind):
        raise ConfigError(f"departments.csv: kind {bad_kind.iloc[0]!r} is not one of {', '.join(DEPARTMENT_KINDS)}")
    deps["parent"] = deps["parent"].replace("", None)
    _check_known("departments.csv", "parent", deps["parent"], pd.Index(deps["code"]), "department")
    return deps.set_index("code", drop=False).rename_axis(None)


def _load_plan_tasks(data_dir: Path, departments: pd.Index) -> pd.DataFrame:
    tasks = _read(data_dir / "plan_tasks.csv", ("number", "title", "lead", "supporting"))
    numbers = _task_numbers("plan_tasks.csv", tasks["number"])
    if (numbers.map(len) != 1).any() or numbers.str[0].duplicated().any():
        raise ConfigError("plan_tasks.csv: every row needs one number, each number once")
    tasks["number"] = numbers.str[0].astype("int64")
    tasks["supporting"] = _split(tasks["supporting"])
    _check_known("plan_tasks.csv", "lead", tasks["lead"], departments, "department")
    _check_known("plan_tasks.csv", "supporting", tasks["supporting"], departments, "department")
    return tasks.set_index("number", drop=False).rename_axis(None)


def _load_categories(data_dir: Path, departments: pd.Index, tasks: pd.Index) -> pd.DataFrame:
    events = _read(data_dir / "event_codes.csv", ("code", "major_code", "major_name", "name"))
    rules = _read(
        data_dir / "category_rules.csv",
        ("code", "lead_department", "supporting_departments", "plan_tasks", "deadline_kind", "deadline_value"),
    )
    for file, frame in (("event_codes.csv", events), ("category_rules.csv", rules)):
        bad = frame["code"][~frame["code"].str.fullmatch(_CODE_RE.pattern) | frame["code"].duplicated()]
        if len(bad):
            raise ConfigError(f"{file}: code {bad.iloc[0]!r} is not a 5-digit code or appears twice")
    unruled = sorted(set(events["code"]) ^ set(rules["code"]))
    if unruled:
        raise ConfigError(f"event_codes.csv and category_rules.csv disagree on code(s) {', '.join(unruled)}")
    cats = events.merge(rules, on="code", validate="one_to_one")
    cats.insert(4, "standard", STANDARD)
    cats.insert(5, "standard_year", STANDARD_YEAR)
    cats["supporting_departments"] = _split(cats["supporting_departments"])
    cats["plan_tasks"] = _task_numbers("category_rules.csv", cats["plan_tasks"])
    _check_known("category_rules.csv", "lead_department", cats["lead_department"], departments, "department")
    _check_known(
        "category_rules.csv", "supporting_departments", cats["supporting_departments"], departments, "department"
    )
    _check_known("category_rules.csv", "plan_tasks", cats["plan_tasks"], tasks, "plan task")
    no_task = cats["code"][cats["plan_tasks"].map(len) == 0]
    if len(no_task):
        raise ConfigError(f"category_rules.csv: code {no_task.iloc[0]!r} serves no plan task")
    kind, value = cats["deadline_kind"], cats["deadline_value"]
    bad_kind = kind[~kind.isin(DEADLINE_KINDS)]
    if len(bad_kind):
        raise ConfigError(
            f"category_rules.csv: deadline_kind {bad_kind.iloc[0]!r} is not one of {', '.join(DEADLINE_KINDS)}"
        )
    # same_day takes no number; working_days takes a positive whole number of days.
    misfit = ((kind == "same_day") & (value != "")) | ((kind == "working_days") & ~value.str.fullmatch(r"[1-9]\d*"))
    if misfit.any():
        raise ConfigError(
            f"category_rules.csv: code {cats['code'][misfit].iloc[0]!r} has deadline_value "
            f"{value[misfit].iloc[0]!r}, which does not fit its deadline_kind"
        )
    cats["deadline_value"] = pd.to_numeric(value.replace("", None)).astype("Int64")
    cats["related_group"] = cats["code"].map(_related_groups(data_dir, pd.Index(cats["code"]))).astype(object)
    cats["related_group"] = cats["related_group"].where(cats["related_group"].notna(), None)
    return cats.set_index("code", drop=False).rename_axis(None)


def _related_groups(data_dir: Path, codes: pd.Index) -> pd.Series:
    """Category code → the group of related categories it belongs to (``related_categories.csv``)."""
    groups = _read(data_dir / "related_categories.csv", ("group", "name", "codes"))
    members = _split(groups["codes"]).set_axis(groups["group"]).explode().dropna()
    _check_known("related_categories.csv", "codes", members, codes, "event code")
    twice = members[members.duplicated()]
    if len(twice) or groups["group"].duplicated().any():
        raise ConfigError(f"related_categories.csv: a group or code {(twice.tolist() or ['?'])[0]!r} appears twice")
    return pd.Series(members.index, index=members.to_numpy())


def _lookup_table(categories: pd.DataFrame, synonyms: pd.DataFrame, legacy: pd.DataFrame) -> dict[str, str]:
    """Normalised code / name / synonym / legacy code → code; refuses ambiguous keys."""
    entries = pd.concat(
        [
            pd.DataFrame({"key": categories["code"], "code": categories["code"], "source": "code"}),
            pd.DataFrame({"key": categories["name"].map(_normalise), "code": categories["code"], "source": "name"}),
            pd.DataFrame(
                {"key": synonyms["text"].map(_normalise), "code": synonyms["code"], "source": "category_synonyms.csv"}
            ),
            pd.DataFrame(
                {"key": legacy["legacy_code"].map(_normalise), "code": legacy["code"], "source": "legacy_codes.csv"}
            ),
        ],
        ignore_index=True,
    ).drop_duplicates(["key", "code"])
    clash = entries[entries["key"].duplicated(keep=False)]
    if len(clash):
        first = clash[clash["key"] == clash["key"].iloc[0]]
        raise ConfigError(
            f"{first['source'].iloc[-1]}: {first['key'].iloc[0]!r} would mean both "
            f"{' and '.join(first['code'])}"
        )
    return dict(zip(entries["key"], entries["code"]))


@dataclass(frozen=True, eq=False)
class Taxonomy:
    """The loaded taxonomy. Treat the frames as read-only: they are shared (cached).

    Attributes
    ----------
    categories : pandas.DataFrame
        Indexed by code: ``code``, ``major_code``, ``major_name``, ``name``,
        ``standard`` ("GB/T 47678.5"), ``standard_year`` (2026), ``lead_department``,
        ``supporting_departments`` (tuple), ``plan_tasks`` (tuple of int),
        ``deadline_kind`` (``same_day`` / ``working_days``), ``deadline_value``
        (Int64 working days, ``<NA>`` for same_day), ``related_group`` (the group of
        ``related_categories.csv`` or None).
    departments : pandas.DataFrame
        Indexed by code: ``code``, ``name``, ``name_en``, ``kind`` (office /
        community / contractor), ``parent`` (None or a department code).
    plan_tasks : pandas.DataFrame
        Indexed by number: ``number``, ``title``, ``lead``, ``supporting`` (tuple).
    synonyms : pandas.DataFrame
        ``text``, ``code``.
    legacy_codes : pandas.DataFrame
        ``legacy_code``, ``legacy_standard``, ``code``.
    """

    categories: pd.DataFrame
    departments: pd.DataFrame
    plan_tasks: pd.DataFrame
    synonyms: pd.DataFrame
    legacy_codes: pd.DataFrame
    _lookup: dict[str, str] = field(repr=False)

    def category(self, code: str) -> dict:
        """One category as a dict of the ``categories`` columns.

        Raises
        ------
        geo.errors.ValidationError
            If ``code`` is not a 5-digit string.
        geo.errors.NotFoundError
            If no category has that code.
        """
        if not isinstance(code, str) or not _CODE_RE.fullmatch(code):
            raise ValidationError(f"event code {code!r} is not a 5-digit code such as '06010'")
        if code not in self.categories.index:
            raise NotFoundError(f"event code {code!r} is not in {STANDARD}-{STANDARD_YEAR} classes 06–10")
        return self.categories.loc[code].to_dict()

    def department(self, code: str) -> dict:
        """One department as a dict of the ``departments`` columns.

        Raises
        ------
        geo.errors.NotFoundError
            If no department has that code (the message lists the known ones).
        """
        if not isinstance(code, str) or code not in self.departments.index:
            raise NotFoundError(f"department {code!r} is unknown; known: {', '.join(self.departments.index)}")
        return self.departments.loc[code].to_dict()

    def lead_department(self, category_code: str) -> str:
        """The code of the department that leads on a category (e.g. ``"sanitation"``)."""
        return self.category(category_code)["lead_department"]

    def _resolve_key(self, key: str) -> str | None:
        if _CASE_CODE_RE.fullmatch(key):
            # Only the event part of a case code is ours to check; the division
            # code belongs to whichever district sent it.
            return key[6:] if key[6:] in self.categories.index else None
        return self._lookup.get(key)

    def resolve_category(self, text: str) -> str:
        """Turn what a person or an upstream system wrote into a 5-digit event code.

        Parameters
        ----------
        text : str
            A 5-digit code (``"06010"``), an 11-digit case code (division code +
            code, ``"12011006010"``), a legacy CJ/T 214-2007 or GB/T 30428.2-2013
            code, the standard's name (``"暴露垃圾"``) or a known synonym
            (``"垃圾乱堆"``). Full-width characters, whitespace and punctuation are
            ignored.

        Returns
        -------
        str
            The 5-digit code.

        Raises
        ------
        geo.errors.ValidationError
            If nothing matches; the message quotes ``text`` and offers up to three
            close categories as "code name".
        """
        if not isinstance(text, str):
            raise ValidationError(f"event category {text!r} is not text")
        code = self._resolve_key(_normalise(text))
        if code is None:
            raise ValidationError(self._unknown_message(text))
        return code

    def _unknown_message(self, text: str) -> str:
        key = _normalise(text)
        choices = list(self._lookup)
        matches = difflib.get_close_matches(key, choices, n=len(choices), cutoff=0.4) if key else []
        codes = list(dict.fromkeys(self._lookup[m] for m in matches))[:_SUGGESTIONS]
        names = self.categories.loc[codes, "name"] if codes else pd.Series(dtype=str)
        closest = ", ".join(f"{c} {n}" for c, n in names.items())
        hint = f"closest: {closest}" if closest else f"no close match among the {len(self.categories)} categories"
        return f"unknown event category {text!r}; {hint}"

    def resolve_categories(self, texts: pd.Series) -> tuple[pd.Series, pd.Series]:
        """Vectorised :meth:`resolve_category` for a column of an import.

        Each distinct value is normalised and looked up once; the rows then take
        their code through a dict.

        Parameters
        ----------
        texts : pandas.Series
            Category text per row (any of the forms :meth:`resolve_category` takes).

        Returns
        -------
        codes : pandas.Series
            5-digit codes (object dtype), None where unresolved.
        errors : pandas.Series
            Boolean mask of rows that did not resolve (missing values included).
        """
        if not isinstance(texts, pd.Series):
            raise ValidationError(f"expected a pandas Series of category texts, got {type(texts).__name__}")
        distinct = pd.unique(texts.dropna())
        resolved = {v: self._resolve_key(_normalise(v)) for v in distinct if isinstance(v, str)}
        codes = texts.map(resolved, na_action="ignore").astype(object)
        codes = codes.where(codes.notna(), None)
        return codes, codes.isna()

    def deadline(
        self,
        category_code: str,
        reported_at: datetime,
        *,
        day_cutoff: time = time(20, 0),
        day_end: time = time(23, 59, 59),
        working_day_end: time = workdays.DEFAULT_DAY_END,
    ) -> datetime:
        """When an issue of this category must be handled.

        Parameters
        ----------
        category_code : str
            5-digit event code.
        reported_at : datetime.datetime
            When it was reported, local time (a timezone, if any, is kept).
        day_cutoff : datetime.time, keyword-only
            ``same_day`` rule: a report at or after this time counts for the next
            calendar day (default 20:00; crews cannot clear garbage reported at
            night the same day).
        day_end : datetime.time, keyword-only
            ``same_day`` rule: the due time on the due day (default 23:59:59).
        working_day_end : datetime.time, keyword-only
            ``working_days`` rule: the due time on the due working day (default
            18:00).

        Returns
        -------
        datetime.datetime
            ``same_day``: ``day_end`` of the report day, or of the next calendar day
            for a report after the cut-off — every day counts, holidays too, because
            garbage collection never stops (日产日清). ``working_days``:
            :func:`geo.workdays.add_working_days` with the category's number of days.
        """
        self.category(category_code)
        if not isinstance(reported_at, datetime):
            raise ValidationError(f"reported_at {reported_at!r} is not a date and time")
        due = self.deadlines(
            pd.Series([category_code]),
            pd.Series([reported_at]),
            day_cutoff=day_cutoff,
            day_end=day_end,
            working_day_end=working_day_end,
        )
        return due.iloc[0].to_pydatetime()

    def deadlines(
        self,
        codes: pd.Series,
        reported_at: pd.Series,
        *,
        day_cutoff: time = time(20, 0),
        day_end: time = time(23, 59, 59),
        working_day_end: time = workdays.DEFAULT_DAY_END,
    ) -> pd.Series:
        """Vectorised :meth:`deadline`: one due time per row, grouped by rule kind.

        Parameters
        ----------
        codes : pandas.Series
            5-digit event codes; every one must be known.
        reported_at : pandas.Series
            Report times on the same index (naive local or timezone-aware); NaT
            gives NaT.
        day_cutoff, day_end, working_day_end : datetime.time, keyword-only
            As for :meth:`deadline`.

        Returns
        -------
        pandas.Series
            Due times on ``codes``' index, in ``reported_at``'s timezone.
        """
        if not isinstance(codes, pd.Series) or not isinstance(reported_at, pd.Series):
            raise ValidationError("codes and reported_at must both be pandas Series")
        if not codes.index.equals(reported_at.index):
            raise ValidationError("codes and reported_at must share one index (row for row)")
        for name, value in (("day_cutoff", day_cutoff), ("day_end", day_end), ("working_day_end", working_day_end)):
            if not isinstance(value, time):
                raise ValidationError(f"{name} {value!r} is not a time of day")
        unknown = codes[~codes.isin(self.categories.index)]
        if len(unknown):
            shown = ", ".join(repr(v) for v in unknown.unique()[:5])
            raise ValidationError(f"unknown event code(s) {shown}: resolve categories before computing deadlines")
        try:
            when = pd.to_datetime(reported_at)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"reported_at cannot be read as datetimes: {exc}") from exc

        kind = codes.map(self.categories["deadline_kind"])
        due = pd.Series(pd.NaT, index=codes.index, dtype=when.dtype)

        same = (kind == "same_day").to_numpy()
        if same.any():
            tz = when.dt.tz
            local = when[same].dt.tz_localize(None) if tz is not None else when[same]
            day = local.dt.normalize()
            late = (local - day) >= _since_midnight(day_cutoff)
            same_due = day + pd.to_timedelta(late.astype("int64"), unit="D") + _since_midnight(day_end)
            # .array: assign by position, not by (possibly repeated) index labels.
            due[same] = (same_due.dt.tz_localize(tz) if tz is not None else same_due).array

        work = (kind == "working_days").to_numpy()
        if work.any():
            days = codes[work].map(self.categories["deadline_value"]).to_numpy(dtype="int64")
            due[work] = workdays.add_working_days_series(when[work], days, day_end=working_day_end).array
        return due


def _since_midnight(t: time) -> timedelta:
    return timedelta(hours=t.hour, minutes=t.minute, seconds=t.second, microseconds=t.microsecond)


@lru_cache(maxsize=4)
def load_taxonomy(*, data_dir: Path | None = None) -> Taxonomy:
    """Read and check the taxonomy CSVs (once per directory; later calls are cached).

    Parameters
    ----------
    data_dir : pathlib.Path, keyword-only, optional
        Directory holding the CSV files; defaults to the package's ``geo/data``.

    Returns
    -------
    Taxonomy

    Raises
    ------
    geo.errors.ConfigError
        If a file is missing or inconsistent: an unknown department or plan task,
        a code without a rule, a category serving no task, a bad deadline rule, or
        a synonym/legacy code that would mean two categories.
    """
    base = DATA_DIR if data_dir is None else Path(data_dir)
    departments = _load_departments(base)
    plan_tasks = _load_plan_tasks(base, departments.index)
    categories = _load_categories(base, departments.index, plan_tasks.index)
    synonyms = _read(base / "category_synonyms.csv", ("text", "code"))
    legacy = _read(base / "legacy_codes.csv", ("legacy_code", "legacy_standard", "code"))
    _check_known("category_synonyms.csv", "code", synonyms["code"], categories.index, "event code")
    _check_known("legacy_codes.csv", "code", legacy["code"], categories.index, "event code")
    return Taxonomy(
        categories=categories,
        departments=departments,
        plan_tasks=plan_tasks,
        synonyms=synonyms,
        legacy_codes=legacy,
        _lookup=_lookup_table(categories, synonyms, legacy),
    )
