"""One row of an import file: check it on its own and turn it into a typed row or a rejection.

Pure: no database, no Flask. Whatever needs the stored data (an existing enrollee's name, a
collection_no already in use) is decided later by `service`; here we check what the row alone and
the set of known villages can tell. A row gets the first problem found, as a stable English code
plus a Chinese reason for the agency staff member; a reason never carries a full ID number.

Columns are matched by header name (any order, case and surrounding spaces ignored). A missing
required column rejects the whole file; unknown extra columns are ignored with a warning. The
`phone` column may be left out altogether, and an empty phone never erases a stored one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from backend.imports.readers import FileProblem
from backend.values import id_numbers
from backend.values import region_codes as regions
from backend.values.masking import mask_id_number, mask_text

KINDS = ("registrations", "groups", "students")
SCHEMES = ("pension", "medical")
GROUPS = ("tekun", "dibao", "poverty", "disabled_severe", "child_in_distress", "orphan")
MIN_YEAR, MAX_YEAR = 2000, 2100
# Pension: age on 1 January of the period year. The policy of the registration's region and year
# decides (see `pension_ages`); this national rule applies where no policy is published yet.
PENSION_MIN_AGE, PENSION_MAX_AGE = 16, 59
# Students pay for at most their remaining study years; eight covers the longest programmes.
MIN_STUDY_YEARS, MAX_STUDY_YEARS = 1, 8

REGISTRATION_COLUMNS = (
    "collection_no",
    "id_number",
    "name",
    "scheme",
    "period_year",
    "village_code",
    "household_no",
    "phone",
)
STUDENT_COLUMNS = (*REGISTRATION_COLUMNS, "school_code", "study_years_left")
GROUP_COLUMNS = ("id_number", "name", "group", "year", "source")
COLUMNS = {
    "registrations": REGISTRATION_COLUMNS,
    "students": STUDENT_COLUMNS,
    "groups": GROUP_COLUMNS,
}
OPTIONAL_COLUMNS = frozenset({"phone"})
MAX_LENGTHS = {
    "collection_no": 40,
    "name": 64,
    "household_no": 32,
    "phone": 20,
    "school_code": 32,
    "source": 64,
}
LABELS = {
    "collection_no": "流水号",
    "id_number": "身份证号",
    "name": "姓名",
    "scheme": "险种",
    "period_year": "缴费年度",
    "village_code": "村（社区）代码",
    "household_no": "户号",
    "phone": "电话",
    "school_code": "学校代码",
    "study_years_left": "剩余学年",
    "group": "特殊群体类别",
    "year": "年度",
    "source": "来源",
}

# A letter or digit first (so it can never start a formula in a download), then letters, digits
# and - _ . / ; the bureau's own numbers (M2020000001) and agencies' (C-410721-0001) fit.
_COLLECTION_NO = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]*")
# Middle dots that join the parts of a name (阿依古丽·买买提); a space between Latin parts.
_NAME_JOINERS = frozenset("·‧・• ")
# Written in names though Unicode does not count it a letter.
_NAME_LETTERS = frozenset("〇")
_PHONE = re.compile(r"[0-9+\-]+")
_VILLAGE = re.compile(r"[0-9]{12}")
# Every valid year as written, to its value: one dict lookup instead of a regex and int().
_YEARS = {str(year): year for year in range(MIN_YEAR, MAX_YEAR + 1)}
_DIGITS = re.compile(r"[0-9]{1,2}")


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    code: str
    reason: str
    id_number_masked: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "code": self.code,
            "reason": self.reason,
            "id_number_masked": self.id_number_masked,
        }


class RegistrationRow(NamedTuple):
    """A registrations or students row. `phone` None: not given (keep what is stored).

    A named tuple (not a frozen dataclass): a million of them are built per large import, and a
    batch of them turns into the database's column arrays with one zip.
    """

    line: int
    collection_no: str
    id_number: str
    name: str
    birth_date: date
    scheme: str
    period_year: int
    village_code: str
    household_no: str
    phone: str | None
    school_code: str | None = None
    study_years_left: int | None = None


class GroupRow(NamedTuple):
    line: int
    id_number: str
    name: str
    group: str
    year: int
    source: str


class RowRejected(Exception):
    """A row that cannot be applied: a stable code and a reason in Chinese (the row's report)."""

    def __init__(self, code: str, reason: str) -> None:
        self.code = code
        self.reason = reason


def _text(value: Any) -> str:
    """A cell as text: CSV gives strings, XLSX may give numbers and dates."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def _echo(value: str) -> str:
    """A cell quoted back in a reason: short, and masked in case it holds an ID number."""
    return mask_text(value[:24])


def age_on(day: date, born: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class RowParser:
    """Checks the rows of one file of one kind.

    `villages`: the codes of every known village; `scope_code`: the region the importer may write
    to (a staff member's region; the whole city on the command line).
    """

    def __init__(
        self,
        kind: str,
        header: Sequence[Any],
        *,
        villages: Container[str],
        scope_code: str,
        today: date,
        pension_ages: Callable[[str, int], tuple[int, int]] | None = None,
    ) -> None:
        if kind not in COLUMNS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        self.kind = kind
        self.columns = COLUMNS[kind]
        self.index, self.warnings = _match_header(self.columns, header)
        # (column, position, length limit, required) in column order: what _fields checks.
        self._spec = tuple(
            (column, position, MAX_LENGTHS.get(column), column not in OPTIONAL_COLUMNS)
            for column, position in self.index.items()
        )
        self._villages = villages
        self._scope_code = regions.normalise(scope_code)
        self._scope_prefix = regions.scope_prefix(scope_code)
        self._today = today
        # (village_code, period_year) -> (min_age, max_age); the service backs it with the policy.
        self._pension_ages = pension_ages or (
            lambda _village, _year: (PENSION_MIN_AGE, PENSION_MAX_AGE)
        )

    def parse(self, line: int, values: Sequence[Any]) -> RegistrationRow | GroupRow | Rejection:
        raw_id = values[self.index["id_number"]] if self.index["id_number"] < len(values) else None
        try:
            fields = self._fields(values)
            if self.kind == "groups":
                return self._group(line, fields, raw_id)
            return self._registration(line, fields, raw_id)
        except RowRejected as problem:
            masked = mask_id_number(id_numbers.normalise(_text(raw_id))) if raw_id else ""
            return Rejection(line, problem.code, problem.reason, masked)

    def _fields(self, values: Sequence[Any]) -> dict[str, str]:
        width = len(values)
        fields = {}
        for column, position, limit, required in self._spec:
            value = values[position] if position < width else None
            text = value.strip() if type(value) is str else _text(value)
            if not text:
                if required:
                    raise RowRejected("empty_field", f"{LABELS[column]}（{column}）不能为空")
            elif limit is not None and len(text) > limit:
                raise RowRejected(
                    "too_long", f"{LABELS[column]}（{column}）超过{limit}个字符（{len(text)}个）"
                )
            fields[column] = text
        return fields

    def _id_number(self, raw: Any, text: str) -> tuple[str, date]:
        """The normalised ID number and the birth date in it."""
        if isinstance(raw, float):
            raise RowRejected(
                "id_stored_as_number",
                "身份证号在Excel中被存成了数字，末几位已丢失；请把该列设为文本格式后重新填写",
            )
        try:
            return id_numbers.validate_with_birth_date(text, today=self._today)
        except id_numbers.InvalidIdNumber as exc:
            raise RowRejected(exc.code, str(exc)) from None

    def _registration(self, line: int, f: dict[str, str], raw_id: Any) -> RegistrationRow:
        collection_no = f["collection_no"]
        if not _COLLECTION_NO.fullmatch(collection_no):
            raise RowRejected(
                "bad_collection_no",
                "流水号（collection_no）只能包含英文字母、数字和 - _ . /，且以字母或数字开头，"
                "不能有空格或汉字",
            )
        id_number, born = self._id_number(raw_id, f["id_number"])
        scheme = f["scheme"].lower()
        if scheme not in SCHEMES:
            raise RowRejected(
                "bad_scheme",
                f"险种（scheme）应为 pension（养老）或 medical（医疗），不能是“{_echo(f['scheme'])}”",
            )
        period_year = _year(f["period_year"], "period_year")
        village_code = self._village(f["village_code"])
        phone = f.get("phone") or None
        if phone is not None and not _PHONE.fullmatch(phone):
            raise RowRejected("bad_phone", "电话（phone）只能包含数字、+ 和 -")
        school_code = study_years_left = None
        if self.kind == "students":
            if scheme != "medical":
                raise RowRejected(
                    "student_not_medical", "学生只能登记医疗保险（scheme 应为 medical）"
                )
            school_code = f["school_code"]
            study_years_left = _study_years(f["study_years_left"])
        if scheme == "pension":
            age = age_on(date(period_year, 1, 1), born)
            min_age, max_age = self._pension_ages(village_code, period_year)
            if not min_age <= age <= max_age:
                raise RowRejected(
                    "pension_age",
                    f"养老保险{period_year}年度参保年龄为{min_age}至{max_age}周岁"
                    f"（按{period_year}年1月1日计），此人届时{max(age, 0)}周岁",
                )
        return RegistrationRow(
            line,
            collection_no,
            id_number,
            _name(f["name"]),
            born,
            scheme,
            period_year,
            village_code,
            f["household_no"],
            phone,
            school_code,
            study_years_left,
        )

    def _village(self, code: str) -> str:
        if not _VILLAGE.fullmatch(code):
            raise RowRejected("bad_village_code", "村（社区）代码（village_code）应为12位数字")
        if code not in self._villages:
            raise RowRejected("unknown_village", f"村（社区）代码{code}不是已登记的村（社区）")
        if not code.startswith(self._scope_prefix):
            raise RowRejected(
                "outside_region", f"村（社区）{code}不在您的管辖区域（{self._scope_code}）内"
            )
        return code

    def _group(self, line: int, f: dict[str, str], raw_id: Any) -> GroupRow:
        id_number, _born = self._id_number(raw_id, f["id_number"])
        group = f["group"].lower()
        if group not in GROUPS:
            raise RowRejected(
                "bad_group",
                f"特殊群体类别（group）“{_echo(f['group'])}”未知，应为 {'、'.join(GROUPS)} 之一",
            )
        return GroupRow(
            line=line,
            id_number=id_number,
            name=_name(f["name"]),
            group=group,
            year=_year(f["year"], "year"),
            source=f["source"],
        )


def _name(text: str) -> str:
    """A person's name: letters (汉字 or Latin) joined by middle dots, nothing that could run as a
    formula in a download or pass for markup."""
    if text and not (
        _is_letter(text[0])
        and _is_letter(text[-1])
        and all(_is_letter(c) or c in _NAME_JOINERS for c in text)
    ):
        raise RowRejected(
            "bad_name",
            "姓名（name）只能由汉字或字母组成，各部分之间可用间隔号（·）隔开，不能有数字或其他符号",
        )
    return text


def _is_letter(c: str) -> bool:
    return c.isalpha() or c in _NAME_LETTERS


def _year(text: str, column: str) -> int:
    year = _YEARS.get(text)
    if year is None:
        raise RowRejected(
            "bad_year", f"{LABELS[column]}（{column}）应为{MIN_YEAR}至{MAX_YEAR}之间的四位年份"
        )
    return year


def _study_years(text: str) -> int:
    if not _DIGITS.fullmatch(text) or not MIN_STUDY_YEARS <= int(text) <= MAX_STUDY_YEARS:
        raise RowRejected(
            "bad_study_years",
            f"剩余学年（study_years_left）应为{MIN_STUDY_YEARS}至{MAX_STUDY_YEARS}之间的整数",
        )
    return int(text)


def _match_header(
    columns: Sequence[str], header: Sequence[Any]
) -> tuple[dict[str, int], list[str]]:
    """Column name -> position in the row, plus warnings about columns we ignore."""
    names = [_text(cell).lower() for cell in header]
    seen: dict[str, int] = {}
    duplicated = []
    for position, name in enumerate(names):
        if not name:
            continue
        if name in seen:
            duplicated.append(name)
        seen.setdefault(name, position)
    wanted = [c for c in columns if c in seen]
    if duplicated:
        raise FileProblem(
            "duplicate_columns",
            f"表头中这些列出现了不止一次：{', '.join(_echo(d) for d in duplicated)}",
            1,
        )
    missing = [c for c in columns if c not in seen and c not in OPTIONAL_COLUMNS]
    if missing:
        raise FileProblem(
            "missing_columns",
            f"缺少必需的列：{', '.join(missing)}。第一行应为表头，包含：{','.join(columns)}",
            1,
        )
    unknown = [name for name in seen if name not in columns]
    ignored = ", ".join(_echo(name) for name in unknown)
    warnings = [f"以下列无法识别，已忽略：{ignored}"] if unknown else []
    return {c: seen[c] for c in wanted}, warnings
