"""Row sources for import files: CSV (UTF-8, with or without BOM) and XLSX (first sheet), streamed.

A source gives the header and then `(line, values)` for every non-blank data row, `line` being the
physical line of a CSV file or the row number of the sheet (the header is line 1 when it is the
first line). Neither reader holds the file in memory: CSV bytes are read, checked and decoded a
block of whole lines at a time (a line that is not UTF-8 is still named exactly), XLSX goes
through openpyxl's read-only mode.

Anything wrong with the file as a whole (not a spreadsheet, not UTF-8, corrupt) raises FileProblem,
also half-way through: the import then applies nothing.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import os
import zipfile
from collections.abc import Iterator, Sequence
from typing import IO, Any

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the pre-2007 Excel .xls container
CSV_EXTENSIONS = frozenset({".csv", ".txt"})
XLSX_EXTENSIONS = frozenset({".xlsx", ".xlsm"})
# No sane row is this long; the limit keeps one newline-free blob from filling memory.
MAX_LINE_BYTES = 64 * 1024
# CSV is read and checked this much at a time.
BLOCK_BYTES = 1024 * 1024


class FileProblem(Exception):
    """The file cannot be imported at all. `str(exc)` is Chinese for the agency staff member."""

    def __init__(self, code: str, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.line = line


class RowSource:
    """Common shape of both readers: `header`, then `rows()` once."""

    format = ""
    header: list[str]

    def rows(self) -> Iterator[tuple[int, Sequence[Any]]]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> RowSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(stream: IO[bytes], file_name: str) -> RowSource:
    """Pick the reader from the file's first bytes, then from its extension."""
    extension = os.path.splitext(file_name or "")[1].lower()
    start = _peek(stream, 8)
    if not start:
        raise FileProblem("empty_file", "文件是空的")
    if start.startswith(ZIP_MAGIC):
        return XlsxSource(stream)
    if start.startswith(OLE2_MAGIC) or extension == ".xls":
        raise FileProblem(
            "unsupported_file_type",
            "不支持旧版Excel（.xls）文件，请另存为 .xlsx 或 CSV UTF-8 后再导入",
        )
    if extension in XLSX_EXTENSIONS:
        raise FileProblem("bad_xlsx", "文件扩展名是 .xlsx，但内容不是有效的Excel文件（可能已损坏）")
    if extension in CSV_EXTENSIONS:
        return CsvSource(stream)
    raise FileProblem(
        "unsupported_file_type",
        f"只能导入 .csv 或 .xlsx 文件，不能导入“{extension or '无扩展名'}”文件",
    )


def _peek(stream: IO[bytes], size: int) -> bytes:
    position = stream.tell()
    start = stream.read(size)
    stream.seek(position)
    return start


def _blank(values: Sequence[Any]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


class CsvSource(RowSource):
    format = "csv"

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._lines_before = 0  # physical lines in the blocks already decoded
        # strict: a quote left open at the end of the file is an error, not one huge last field.
        self._reader = csv.reader(itertools.chain.from_iterable(self._blocks()), strict=True)
        self.header = self._read_header()

    def _blocks(self) -> Iterator[Iterator[str]]:
        """The file as decoded blocks of whole lines, each checked before any of it is used.

        A block at a time (not a line at a time): checking and decoding a megabyte costs one
        call each, and the lines are then cut and handed to the CSV reader in C.
        """
        rest = b""
        while True:
            data = self._stream.read(BLOCK_BYTES)
            if not data:
                if rest:
                    yield self._decoded(rest)
                return
            data = rest + data
            end = data.rfind(b"\n") + 1
            if len(data) - end > MAX_LINE_BYTES:  # no line end in sight
                line = self._lines_before + data.count(b"\n", 0, end) + 1
                raise FileProblem(
                    "line_too_long", f"第{line}行超过{MAX_LINE_BYTES}字节，不像表格数据", line
                )
            rest = data[end:]
            if end:
                yield self._decoded(data[:end])

    def _decoded(self, block: bytes) -> Iterator[str]:
        first = self._lines_before + 1
        if first == 1 and block.startswith(codecs.BOM_UTF8):
            block = block[len(codecs.BOM_UTF8) :]
        if max(map(len, block.split(b"\n"))) > MAX_LINE_BYTES:
            line = first + _index_of_long_line(block)
            raise FileProblem(
                "line_too_long", f"第{line}行超过{MAX_LINE_BYTES}字节，不像表格数据", line
            )
        nul = block.find(b"\x00")
        if nul >= 0:  # no text file holds NUL; the database would refuse it anyway
            line = first + block.count(b"\n", 0, nul)
            raise FileProblem("binary_content", f"第{line}行含有二进制内容，不是文本CSV文件", line)
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = first + block.count(b"\n", 0, exc.start)
            raise FileProblem(
                "not_utf8",
                f"第{line}行不是UTF-8编码（可能是GBK）。请在Excel中“另存为 CSV UTF-8”后再导入",
                line,
            ) from None
        self._lines_before += block.count(b"\n")
        # newline="\n": a line ends at \n only, as in the file (the CSV reader handles \r\n).
        return io.StringIO(text, newline="\n")

    def _read_header(self) -> list[str]:
        for _line, record in self.rows():
            return list(record)
        raise FileProblem("empty_file", "文件是空的（没有表头）")

    def rows(self) -> Iterator[tuple[int, Sequence[Any]]]:
        # One loop, no helper generator in between: it runs once per row of a large file.
        reader = self._reader
        while True:
            first_line = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                line = reader.line_num
                raise FileProblem("bad_csv", f"第{line}行不是有效的CSV（{exc}）", line) from None
            # Cells of a CSV row are all text: the row is blank when they join to only spaces.
            if "".join(record).strip():
                yield first_line, record


def _index_of_long_line(block: bytes) -> int:
    return next(i for i, line in enumerate(block.split(b"\n")) if len(line) > MAX_LINE_BYTES)


class XlsxSource(RowSource):
    format = "xlsx"

    def __init__(self, stream: IO[bytes]) -> None:
        # Imported here: openpyxl takes a noticeable time to import and CSV imports never need it.
        import openpyxl

        try:
            self._book = openpyxl.load_workbook(stream, read_only=True, data_only=True)
        except Exception as exc:  # a corrupt file can fail inside zipfile, XML or openpyxl itself
            raise FileProblem("bad_xlsx", _corrupt_message(exc)) from None
        if not self._book.worksheets:
            self.close()
            raise FileProblem("bad_xlsx", "Excel文件中没有工作表")
        sheet = self._book.worksheets[0]
        # Some programs write a wrong <dimension>; without this, rows would be cut to it.
        sheet.reset_dimensions()
        self._rows = self._numbered(sheet)
        self.header = self._read_header()

    def _numbered(self, sheet) -> Iterator[tuple[int, Sequence[Any]]]:
        # In read-only mode openpyxl fills gaps with empty rows, so counting gives the row number.
        number = 0
        iterator = sheet.iter_rows(values_only=True)
        while True:
            try:
                values = next(iterator)
            except StopIteration:
                return
            except Exception as exc:
                raise FileProblem(
                    "bad_xlsx", f"第{number + 1}行附近：{_corrupt_message(exc)}", number + 1
                ) from None
            number += 1
            yield number, values

    def _read_header(self) -> list[str]:
        for _line, values in self._rows:
            if not _blank(values):
                return ["" if v is None else str(v) for v in values]
        raise FileProblem("empty_file", "Excel第一个工作表是空的（没有表头）")

    def rows(self) -> Iterator[tuple[int, Sequence[Any]]]:
        for line, values in self._rows:
            if not _blank(values):
                yield line, values

    def close(self) -> None:
        self._book.close()


def _corrupt_message(exc: BaseException) -> str:
    if isinstance(exc, zipfile.BadZipFile):
        return "不是有效的Excel（.xlsx）文件，可能已损坏"
    return f"Excel文件已损坏或格式不正确（{exc.__class__.__name__}）"
