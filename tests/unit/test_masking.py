import io
import logging

from backend.values.masking import MaskingFilter, mask_id_number, mask_name, mask_text


def test_id_numbers_keep_the_county_and_the_last_four():
    assert mask_id_number("41072119800101001X") == "410721********001X"


def test_names_keep_only_the_first_character():
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"


def test_free_text_is_masked_wherever_an_id_number_appears():
    text = "paid by 41072119800101001X and 410721198001010029."
    assert mask_text(text) == "paid by 410721********001X and 410721********0029."


def test_a_log_line_never_carries_a_full_id_number(caplog):
    logger = logging.getLogger("test.masking")
    logger.addFilter(MaskingFilter())
    with caplog.at_level(logging.INFO, logger="test.masking"):
        logger.info("lookup of %s", "41072119800101001X")
    assert "41072119800101001X" not in caplog.text
    assert "410721********001X" in caplog.text


def test_a_traceback_in_the_log_never_carries_a_full_id_number():
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(MaskingFilter())
    logger = logging.getLogger("test.masking.traceback")
    logger.addHandler(handler)
    try:
        try:
            raise KeyError("no enrollee 41072119800101001X")
        except KeyError:
            logger.exception("unhandled error")
    finally:
        logger.removeHandler(handler)
    assert "Traceback" in out.getvalue() and "KeyError" in out.getvalue()
    assert "41072119800101001X" not in out.getvalue()
    assert "410721********001X" in out.getvalue()
