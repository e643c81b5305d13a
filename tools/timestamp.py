"""RFC 3161 timestamp requests and responses, as plain functions.

No ``odoo`` import: ``asn1crypto`` (which Odoo already requires) builds the
request and reads the answer; the model sends it over HTTP.
"""

import secrets

from asn1crypto import cms, tsp

CONTENT_TYPE_QUERY = "application/timestamp-query"
CONTENT_TYPE_REPLY = "application/timestamp-reply"


class TimestampError(ValueError):
    """The time-stamping authority's answer is not a valid timestamp of what
    was asked."""


def build_request(digest):
    """``(der, nonce)``: a DER ``TimeStampReq`` for the SHA-256 ``digest``
    (bytes), asking for the authority's certificate in the token."""
    nonce = secrets.randbits(63)
    request = tsp.TimeStampReq(
        {
            "version": 1,
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": digest,
            },
            "nonce": nonce,
            "cert_req": True,
        }
    )
    return request.dump(), nonce


def _tst_info(token):
    signed_data = token["content"]
    return signed_data["encap_content_info"]["content"].parsed


def parse_response(der, digest, nonce):
    """``(token der, gen_time)`` from a DER ``TimeStampResp``; raises
    :class:`TimestampError` when it is refused or does not stamp ``digest``
    with ``nonce``."""
    try:
        response = tsp.TimeStampResp.load(der)
        status = response["status"]["status"].native
    except (ValueError, TypeError, KeyError) as error:
        raise TimestampError(f"unreadable answer ({error})") from error
    if status not in ("granted", "granted_with_mods"):
        text = response["status"]["status_string"].native or []
        raise TimestampError(f"refused: {status} {' '.join(text)}".strip())
    token = response["time_stamp_token"]
    info = token_info(token.dump())
    if info["digest"] != digest:
        raise TimestampError("the token does not stamp the digest asked")
    if info["nonce"] != nonce:
        raise TimestampError("the token does not answer this request (nonce)")
    return token.dump(), info["gen_time"]


def token_info(token_der):
    """``{"digest", "nonce", "gen_time"}`` of a DER timestamp token
    (a CMS ``ContentInfo``); raises :class:`TimestampError` when it is none.
    The signature is not checked here: the offline verifier does it, with
    the authority's certificate."""
    try:
        token = cms.ContentInfo.load(token_der)
        info = _tst_info(token)
        imprint = info["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        digest = imprint["hashed_message"].native
        gen_time = info["gen_time"].native
        nonce = info["nonce"].native
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise TimestampError(f"not a timestamp token ({error})") from error
    if algorithm != "sha256":
        raise TimestampError(f"unexpected digest algorithm {algorithm}")
    return {"digest": digest, "nonce": nonce, "gen_time": gen_time}
