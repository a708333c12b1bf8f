"""One WeChat Pay v2 API call: the `<xml>` envelope checks and the signed reply.

Envelope problems (unreadable XML, unknown merchant, bad signature) are answered like WeChat does:
`return_code=FAIL` with a `return_msg` and nothing else, unsigned (WeChat cannot sign for a caller
it cannot identify). Accepted calls are answered with return_code=SUCCESS, appid, mch_id, a fresh
nonce_str and a `sign` made with the caller's algorithm and the realm's key.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response

from fakes.wechat import notices, signing, xmlwire
from fakes.wechat.pay_state import Merchant, PayError, PayLedger


class EnvelopeError(Exception):
    """WeChat refuses the call itself: return_code=FAIL with this return_msg."""

    def __init__(self, return_msg: str, **extra: str) -> None:
        super().__init__(return_msg)
        self.return_msg = return_msg
        self.extra = extra


def xml_response(fields: dict[str, object]) -> Response:
    return Response(xmlwire.render(fields), content_type="text/xml; charset=utf-8")


def envelope_failure(exc: EnvelopeError) -> Response:
    return xml_response({"return_code": "FAIL", "return_msg": exc.return_msg, **exc.extra})


@dataclass
class Call:
    params: dict[str, str]
    merchant: Merchant
    realm: str
    sign_type: str

    @classmethod
    def open(cls, body: bytes, ledger: PayLedger, realm: str, key_realm: str | None = None) -> Call:
        """Parse and authenticate a request; `key_realm` overrides whose key signs it
        (getsignkey is a sandbox path signed with the live key)."""
        if not body.strip():
            raise EnvelopeError("post数据为空")
        try:
            params = xmlwire.parse(body)
        except xmlwire.BadXml:
            raise EnvelopeError("XML格式错误") from None
        mch_id = params.get("mch_id", "")
        if not mch_id:
            raise EnvelopeError("缺少参数mch_id")
        merchant = ledger.merchants.get(mch_id)
        if merchant is None:
            raise EnvelopeError("商户号mch_id不存在")
        nonce = params.get("nonce_str", "")
        if not nonce:
            raise EnvelopeError("缺少参数nonce_str")
        if len(nonce) > 32:
            raise EnvelopeError("nonce_str参数长度有误")
        sign_type = params.get("sign_type") or signing.MD5
        if sign_type not in signing.SIGN_TYPES:
            raise EnvelopeError("sign_type参数格式错误")
        if not signing.verify(params, merchant.key(key_realm or realm)):
            raise EnvelopeError("签名错误")
        return cls(params=params, merchant=merchant, realm=realm, sign_type=sign_type)

    def get(self, name: str) -> str:
        return self.params.get(name, "")

    def require(self, *names: str) -> None:
        missing = [n for n in names if not self.params.get(n)]
        if missing:
            raise PayError("LACK_PARAMS", "缺少参数" + ",".join(missing))

    def check_appid(self) -> None:
        self.require("appid")
        if self.get("appid") != self.merchant.appid:
            raise PayError("APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")

    def reply(self, key_realm: str | None = None, **fields: object) -> Response:
        """A signed SUCCESS envelope; `result_code` defaults to SUCCESS."""
        out: dict[str, object] = {
            "return_code": "SUCCESS",
            "return_msg": "OK",
            "appid": self.merchant.appid,
            "mch_id": self.merchant.mch_id,
            "nonce_str": notices.nonce(),
            "result_code": "SUCCESS",
            **fields,
        }
        out["sign"] = signing.sign(out, self.merchant.key(key_realm or self.realm), self.sign_type)
        return xml_response(out)

    def refuse(self, exc: PayError) -> Response:
        return self.reply(result_code="FAIL", err_code=exc.code, err_code_des=exc.des)
