"""Reading import files: CSV and XLSX rows with their physical line numbers, and files we refuse."""

from __future__ import annotations

import io
import zipfile

import pytest

from backend.imports.readers import MAX_LINE_BYTES, FileProblem, open_source
from tests.support.files import REGISTRATION_HEADER, registration, write_csv, write_xlsx


def read(data: bytes, name: str = "f.csv"):
    with open_source(io.BytesIO(data), name) as source:
        return source.header, list(source.rows())


def problem(data: bytes, name: str = "f.csv") -> FileProblem:
    with pytest.raises(FileProblem) as caught:
        read(data, name)
    return caught.value


def test_csv_rows_come_with_their_line_numbers_and_blank_lines_are_skipped():
    header, rows = read(b"a,b\n1,2\n\n3,4\r\n , \n5,6")
    assert header == ["a", "b"]
    assert rows == [(2, ["1", "2"]), (4, ["3", "4"]), (6, ["5", "6"])]


def test_a_quoted_field_over_two_lines_keeps_the_numbering_of_what_follows():
    _, rows = read(b'a,b\n"x\ny",2\n3,4\n')
    assert rows == [(2, ["x\ny", "2"]), (4, ["3", "4"])]


def test_a_bom_is_not_part_of_the_first_column_name():
    header, rows = read("\ufeffa,b\n1,2\n".encode())
    assert header == ["a", "b"]
    assert rows == [(2, ["1", "2"])]


def test_a_line_that_is_not_utf8_is_named():
    data = b"a,b\n1,2\n" + "张三,2\n".encode("gbk") + b"5,6\n"
    found = problem(data)
    assert found.code == "not_utf8"
    assert found.line == 3
    assert "第3行" in str(found) and "UTF-8" in str(found)


def test_nul_bytes_mean_binary_content_and_the_line_is_named():
    found = problem(b"a,b\n1,2\n3\x00,4\n")
    assert found.code == "binary_content"
    assert found.line == 3


def test_an_unterminated_quote_is_a_bad_csv():
    found = problem(b'a,b\n1,"2\n3,4')
    assert found.code == "bad_csv"
    assert problem(b'a,b\n"ab"c,2\n').line == 2


def test_an_endless_line_is_refused_without_reading_it_all():
    found = problem(b"a,b\n" + b"x" * (MAX_LINE_BYTES + 10))
    assert found.code == "line_too_long"
    assert found.line == 2


@pytest.mark.parametrize("data", [b"", b"\n\n", "\ufeff".encode()])
def test_an_empty_file_is_refused(data):
    assert problem(data).code == "empty_file"


@pytest.mark.parametrize("name", ["f.pdf", "f", "f.json"])
def test_other_file_types_are_refused(name):
    found = problem(b"a,b\n1,2\n", name)
    assert found.code == "unsupported_file_type"


def test_old_excel_files_are_refused_with_advice():
    found = problem(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "f.xls")
    assert found.code == "unsupported_file_type"
    assert ".xlsx" in str(found)


def test_xlsx_rows_come_with_their_sheet_row_numbers(tmp_path):
    path = write_xlsx(
        tmp_path / "r.xlsx",
        REGISTRATION_HEADER,
        [registration(1), [None] * 8, registration(2)],
    )
    header, rows = read(path.read_bytes(), "r.xlsx")
    assert header == list(REGISTRATION_HEADER)
    assert [line for line, _ in rows] == [2, 4]
    assert rows[0][1][2] == "测试一"


def test_an_xlsx_saved_with_a_csv_name_is_still_read_as_xlsx(tmp_path):
    path = write_xlsx(tmp_path / "r.xlsx", REGISTRATION_HEADER, [registration(1)])
    _, rows = read(path.read_bytes(), "r.csv")
    assert len(rows) == 1


def test_a_csv_with_an_xlsx_name_is_refused_as_not_excel(tmp_path):
    path = write_csv(tmp_path / "r.csv", REGISTRATION_HEADER, [registration(1)])
    assert problem(path.read_bytes(), "r.xlsx").code == "bad_xlsx"


def test_a_truncated_xlsx_is_refused(tmp_path):
    path = write_xlsx(tmp_path / "r.xlsx", REGISTRATION_HEADER, [registration(1)])
    found = problem(path.read_bytes()[:300], "r.xlsx")
    assert found.code == "bad_xlsx"


def test_a_zip_that_is_not_a_workbook_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    assert problem(buffer.getvalue(), "r.xlsx").code == "bad_xlsx"


def test_a_workbook_whose_sheet_xml_is_broken_is_refused(tmp_path):
    path = write_xlsx(tmp_path / "r.xlsx", REGISTRATION_HEADER, [registration(1)])
    broken = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = data[: len(data) // 2]  # cut in the middle of the XML
            target.writestr(item, data)
    assert problem(broken.getvalue(), "r.xlsx").code == "bad_xlsx"
