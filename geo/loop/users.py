"""People and their roles: who may see which issues, password hashing, account rules.

Roles are data (``geo/data/roles.csv``), one row per role:

``role``
    supervisor (督导: sees everything), dispatcher (调度员, the grid centre: registers,
    dispatches, verifies, closes), department (责任科室: its own department's issues
    only, records handling), public (公众: submits reports only), admin (manages users).
``name``, ``name_en``
    What the pages call the role.
``sees``
    Which issues the role may read: ``all``, ``department`` (those its department is
    responsible for, :func:`owns`) or ``none``.
``reveals_phone``
    1 when the role may reveal a reporter's unmasked phone number (each reveal is logged).
``manages_users``
    1 when the role may create users.

Which closed-loop actions a role may take is the workflow's table
(``geo/data/transitions.csv``); which web pages it may open is ``webmap.auth``'s.
Passwords are kept as werkzeug's scrypt hashes only; a new one needs 10 characters and must not be
one of ``geo/data/common_passwords.txt``. No I/O beyond those two data files.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pandas as pd
from werkzeug.security import check_password_hash, generate_password_hash

from geo.errors import ConfigError, ValidationError
from geo.taxonomy import DATA_DIR, load_taxonomy

ROLES_FILE = DATA_DIR / "roles.csv"
SCOPES = ("all", "department", "none")
#: user names: letters (Chinese included), digits, ``.``, ``_``, ``-``, ``@``; 2–60 characters
_NAME_RE = re.compile(r"[\w.@-]{2,60}")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200
#: the most common passwords, refused whatever their case (see the file's header)
COMMON_PASSWORDS_FILE = DATA_DIR / "common_passwords.txt"


@lru_cache(maxsize=4)
def load_roles(path: Path = ROLES_FILE) -> pd.DataFrame:
    """The role table indexed by ``role`` (see the module docstring); flags as bool.

    Raises
    ------
    geo.errors.ConfigError
        A missing column, an unknown ``sees`` value, a flag that is not 0/1, a repeated role.
    """
    if not Path(path).is_file():
        raise ConfigError(f"role table {str(path)!r} is missing")
    table = pd.read_csv(path, dtype=str, keep_default_na=False).apply(lambda c: c.str.strip())
    missing = [c for c in ("role", "name", "name_en", "sees", "reveals_phone", "manages_users") if c not in table]
    if missing:
        raise ConfigError(f"{Path(path).name}: missing column(s) {', '.join(missing)}")
    if table["role"].duplicated().any():
        raise ConfigError(f"{Path(path).name}: role {table['role'][table['role'].duplicated()].iloc[0]!r} repeats")
    odd = table["sees"][~table["sees"].isin(SCOPES)]
    if len(odd):
        raise ConfigError(f"{Path(path).name}: sees {odd.iloc[0]!r} is not one of {', '.join(SCOPES)}")
    for flag in ("reveals_phone", "manages_users"):
        if not table[flag].isin(("0", "1")).all():
            raise ConfigError(f"{Path(path).name}: {flag} must be 0 or 1")
        table[flag] = table[flag] == "1"
    return table.set_index("role")


def role_names() -> tuple[str, ...]:
    """The role codes, in table order."""
    return tuple(load_roles().index)


@lru_cache(maxsize=1)
def common_passwords(path: Path = COMMON_PASSWORDS_FILE) -> frozenset[str]:
    """The common passwords of ``path`` in lower case (``#`` lines are comments)."""
    if not Path(path).is_file():
        raise ConfigError(f"common password list {str(path)!r} is missing")
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def check_new_password(password: str) -> str:
    """A password a user may set: 10–200 characters and none of the most common ones (in any case).

    Raises
    ------
    geo.errors.ValidationError
        Saying which rule it breaks (the password itself is never quoted).
    """
    if not isinstance(password, str):
        raise ValidationError(f"密码必须是文本 (a password is text, got {type(password).__name__})")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"密码至少 {MIN_PASSWORD_LENGTH} 个字符 (password must be at least "
                              f"{MIN_PASSWORD_LENGTH} characters; got {len(password)})")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(f"密码最多 {MAX_PASSWORD_LENGTH} 个字符 (password must be at most "
                              f"{MAX_PASSWORD_LENGTH} characters; got {len(password)})")
    if password.lower() in common_passwords():
        raise ValidationError("密码过于常见，请换一个 (password is one of the most common ones; choose another)")
    return password


def hash_password(password: str) -> str:
    """The scrypt hash (werkzeug's ``scrypt:32768:8:1``, random salt) of a new password (:func:`check_new_password`)."""
    return generate_password_hash(check_new_password(password), method="scrypt")


def check_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches the stored hash (False for a missing hash or an over-long password)."""
    if not password_hash or not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        return False
    return check_password_hash(password_hash, password)


def login_delay_s(failures: int, *, free_failures: int, cap_s: float) -> float:
    """Seconds a client address or a user name waits after its ``failures``-th failed login in a row.

    None for the first ``free_failures`` (typing slips), then 1 s doubling up to ``cap_s``
    (with 3 free: 0, 0, 0, 1, 2, 4, … s). The wait is capped so a guesser
    can delay the real user but never lock the account.
    """
    if failures <= free_failures:
        return 0.0
    # 2**60 s is far past any cap; capping the exponent keeps the float finite
    return float(min(2.0 ** min(failures - free_failures - 1, 60), cap_s))


def check_account(name: str, role: str, department_code: str | None) -> tuple[str, str, str | None]:
    """Validate a new user's name, role and department; returns them cleaned.

    A ``department`` user must name a department of the taxonomy; other roles must not.

    Raises
    ------
    geo.errors.ValidationError
        Quoting the bad value.
    """
    name = (name or "").strip()
    if not _NAME_RE.fullmatch(name):
        raise ValidationError(f"user name {name!r}: use 2–60 letters, digits, '.', '_', '-' or '@'")
    if role not in load_roles().index:
        raise ValidationError(f"role {role!r} is unknown; known: {', '.join(role_names())}")
    department_code = (department_code or "").strip() or None
    if role == "department":
        known = load_taxonomy().departments.index
        if department_code not in known:
            raise ValidationError(f"department {department_code!r} is unknown; a department user needs one of "
                                  f"{', '.join(known)}")
    elif department_code is not None:
        raise ValidationError(f"role {role!r} takes no department (got {department_code!r})")
    return name, role, department_code


def roles_that_see(sees: str) -> tuple[str, ...]:
    """The roles whose ``sees`` is ``sees`` (``all``, ``department`` or ``none``), in table order."""
    roles = load_roles()
    return tuple(roles.index[roles["sees"] == sees])


def owns(user_department: str, issue_department: str | None) -> bool:
    """Whether a department user is responsible for an issue of ``issue_department``.

    Its own code, a child department (``sanitation`` owns ``sanitation_west``), and for
    the ``communities`` team every ``community:…`` issue.
    """
    if not issue_department:
        return False
    if issue_department == user_department:
        return True
    departments = load_taxonomy().departments
    if issue_department in departments.index and departments.at[issue_department, "parent"] == user_department:
        return True
    return user_department == "communities" and issue_department.startswith("community:")


def scope(role: str) -> str:
    """Which issues a role reads: ``all``, ``department`` or ``none``."""
    if role not in load_roles().index:
        raise ValidationError(f"role {role!r} is unknown; known: {', '.join(role_names())}")
    return load_roles().at[role, "sees"]


def may_see(role: str, user_department: str | None, issue_department: str | None) -> bool:
    """Whether a user of ``role`` (and department) may read an issue of ``issue_department``."""
    seen = scope(role)
    if seen == "all":
        return True
    if seen == "department":
        return bool(user_department) and owns(user_department, issue_department)
    return False


def acts_for_own_department(role: str) -> bool:
    """Whether a user of ``role`` takes closed-loop steps only for its own department (``sees`` = department)."""
    return scope(role) == "department"


def acting_department(role: str, user_department: str | None, requested: str | None) -> str | None:
    """The department a closed-loop step is taken for.

    A department user acts for its own department, whatever a form or body asked for;
    the other roles choose one (a dispatch's or reassignment's target), or none.
    """
    return user_department if acts_for_own_department(role) else requested


def may_act_on(role: str, user_department: str | None, issue_department: str | None) -> bool:
    """Whether a user may take steps on an issue of ``issue_department`` (which steps: ``transitions.csv``)."""
    return not acts_for_own_department(role) or owns(user_department or "", issue_department)


def owned_departments(user_department: str, *, community_codes: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Every issue department code a department user is responsible for, for a SQL ``IN`` filter.

    The same rule as :func:`owns`: its own code, its child departments
    (``sanitation`` → ``sanitation_west``, ``sanitation_east``) and, for the
    ``communities`` team, ``community:<code>`` of each of ``community_codes``.
    """
    departments = load_taxonomy().departments
    codes = [user_department, *departments.index[departments["parent"] == user_department]]
    if user_department == "communities":
        codes += [f"community:{code}" for code in community_codes]
    return codes
