"""A small FIX 4.4 data dictionary: the messages the venue supports, as plain tables.

Validation runs for every inbound message, so the tables are precompiled into one dict of
``MsgType -> _Spec`` with frozensets and one dict ``tag -> checker``; a NewOrderSingle costs one
pass over its fields with a set lookup and at most one small function call per typed field.

Repeating groups are not supported by the venue's messages; a repeated tag is rejected with
SessionRejectReason 13 (FIX test case 14h).
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Final

from fix_gateway.codec import HEADER_TAGS, TRAILER_TAGS, Message, parse_utc_timestamp
from fix_gateway.fix44_tags import DEFINED_TAGS, MESSAGE_TAGS

# SessionRejectReason(373) values used by the venue.
INVALID_TAG_NUMBER: Final = 0
REQUIRED_TAG_MISSING: Final = 1
TAG_NOT_DEFINED_FOR_MSG_TYPE: Final = 2
UNDEFINED_TAG: Final = 3
TAG_WITHOUT_VALUE: Final = 4
VALUE_OUT_OF_RANGE: Final = 5
INCORRECT_DATA_FORMAT: Final = 6
COMPID_PROBLEM: Final = 9
SENDING_TIME_ACCURACY: Final = 10
INVALID_MSG_TYPE: Final = 11
TAG_REPEATED: Final = 13
TAG_OUT_OF_ORDER: Final = 14

#: First tag number of the user-defined range: an unknown tag there is "Undefined tag" (3); an
#: unknown tag below it is "Invalid tag number" (0), as QuickFIX does (FIX test case 14a).
USER_DEFINED_TAGS_START: Final = 5000

ADMIN_MSG_TYPES: Final = frozenset({"0", "1", "2", "3", "4", "5", "A"})
APP_MSG_TYPES: Final = frozenset({"D", "F", "G", "H", "q"})

#: Every MsgType defined by FIX 4.4; a message type outside it (and not user-defined "U...") is
#: answered with Reject reason 11, one inside it that the venue does not support with a
#: BusinessMessageReject(j) reason 3.
FIX44_MSG_TYPES: Final = frozenset(
    list(string.digits)
    + [c for c in string.ascii_uppercase if c not in "IO"]
    + list(string.ascii_lowercase)
    + ["A" + c for c in string.ascii_uppercase]
    + ["B" + c for c in "ABCDEFGH"]
)

# -- field types ---------------------------------------------------------------------------------
# tag: (name, type).  Types: int, float (price, qty, amounts), char, str, time (UTCTimestamp),
# date (LocalMktDate), bool (Y/N), data.
FIELDS: Final[dict[int, tuple[str, str]]] = {
    1: ("Account", "str"),
    7: ("BeginSeqNo", "int"),
    8: ("BeginString", "str"),
    9: ("BodyLength", "int"),
    10: ("CheckSum", "str"),
    11: ("ClOrdID", "str"),
    15: ("Currency", "str"),
    16: ("EndSeqNo", "int"),
    18: ("ExecInst", "str"),
    21: ("HandlInst", "char"),
    22: ("SecurityIDSource", "str"),
    34: ("MsgSeqNum", "int"),
    35: ("MsgType", "str"),
    36: ("NewSeqNo", "int"),
    37: ("OrderID", "str"),
    38: ("OrderQty", "float"),
    40: ("OrdType", "char"),
    41: ("OrigClOrdID", "str"),
    43: ("PossDupFlag", "bool"),
    44: ("Price", "float"),
    45: ("RefSeqNum", "int"),
    48: ("SecurityID", "str"),
    49: ("SenderCompID", "str"),
    50: ("SenderSubID", "str"),
    52: ("SendingTime", "time"),
    54: ("Side", "char"),
    55: ("Symbol", "str"),
    56: ("TargetCompID", "str"),
    57: ("TargetSubID", "str"),
    58: ("Text", "str"),
    59: ("TimeInForce", "char"),
    60: ("TransactTime", "time"),
    89: ("Signature", "data"),
    90: ("SecureDataLen", "int"),
    91: ("SecureData", "data"),
    93: ("SignatureLength", "int"),
    95: ("RawDataLength", "int"),
    96: ("RawData", "data"),
    97: ("PossResend", "bool"),
    98: ("EncryptMethod", "int"),
    99: ("StopPx", "float"),
    100: ("ExDestination", "str"),
    108: ("HeartBtInt", "int"),
    110: ("MinQty", "float"),
    111: ("MaxFloor", "float"),
    112: ("TestReqID", "str"),
    115: ("OnBehalfOfCompID", "str"),
    116: ("OnBehalfOfSubID", "str"),
    122: ("OrigSendingTime", "time"),
    123: ("GapFillFlag", "bool"),
    126: ("ExpireTime", "time"),
    128: ("DeliverToCompID", "str"),
    129: ("DeliverToSubID", "str"),
    141: ("ResetSeqNumFlag", "bool"),
    142: ("SenderLocationID", "str"),
    143: ("TargetLocationID", "str"),
    144: ("OnBehalfOfLocationID", "str"),
    145: ("DeliverToLocationID", "str"),
    207: ("SecurityExchange", "str"),
    212: ("XmlDataLen", "int"),
    213: ("XmlData", "data"),
    336: ("TradingSessionID", "str"),
    347: ("MessageEncoding", "str"),
    354: ("EncodedTextLen", "int"),
    355: ("EncodedText", "data"),
    369: ("LastMsgSeqNumProcessed", "int"),
    371: ("RefTagID", "int"),
    372: ("RefMsgType", "str"),
    373: ("SessionRejectReason", "int"),
    383: ("MaxMessageSize", "int"),
    432: ("ExpireDate", "date"),
    460: ("Product", "int"),
    461: ("CFICode", "str"),
    464: ("TestMessageIndicator", "bool"),
    526: ("SecondaryClOrdID", "str"),
    528: ("OrderCapacity", "char"),
    530: ("MassCancelRequestType", "char"),
    553: ("Username", "str"),
    554: ("Password", "str"),
    583: ("ClOrdLinkID", "str"),
    625: ("TradingSessionSubID", "str"),
    627: ("NoHops", "int"),
    789: ("NextExpectedMsgSeqNum", "int"),
    790: ("OrdStatusReqID", "str"),
    925: ("NewPassword", "str"),
}

#: Enumerated values (Side, OrdType, TimeInForce, ...): a value outside is reason 5.
ENUMS: Final[dict[int, frozenset[str]]] = {
    21: frozenset("123"),
    40: frozenset("123456789ABCDEFGHIJKLMP"),
    54: frozenset("123456789ABCDEFG"),
    59: frozenset("01234567"),
    98: frozenset({"0", "1", "2", "3", "4", "5", "6"}),
    528: frozenset("ABGIPRW"),
    530: frozenset("1234567"),
}
#: ExecInst(18) is a MultipleCharValue: space-separated values from this set.
MULTI_ENUMS: Final[dict[int, frozenset[str]]] = {
    18: frozenset(string.digits + string.ascii_uppercase + "abcdefghi"),
}

# -- messages -------------------------------------------------------------------------------------
# MsgType: (required body tags, optional body tags).  Header/trailer tags are always allowed;
# SenderCompID, TargetCompID, MsgSeqNum and SendingTime are required in every message.
_HEADER_REQUIRED: Final = frozenset({8, 9, 35, 34, 49, 52, 56, 10})
_INSTRUMENT: Final = (48, 22, 207, 460, 461)

MESSAGES: Final[dict[str, tuple[tuple[int, ...], tuple[int, ...]]]] = {
    "0": ((), (112,)),
    "1": ((112,), ()),
    "2": ((7, 16), ()),
    "3": ((45,), (371, 372, 373, 58, 354, 355)),
    "4": ((36,), (123,)),
    "5": ((), (58, 354, 355)),
    "A": ((98, 108), (95, 96, 141, 372, 383, 384, 385, 464, 553, 554, 789, 925)),
    "D": (
        (11, 55, 54, 60, 38, 40),
        (1, 18, 21, 44, 99, 59, 126, 432, 110, 111, 58, 15, 100, 526, 528, 583, *_INSTRUMENT),
    ),
    "F": ((41, 11, 55, 54, 60), (37, 1, 38, 58, 526, *_INSTRUMENT)),
    "G": (
        (41, 11, 55, 54, 60, 40),
        (37, 1, 38, 44, 99, 59, 18, 21, 126, 432, 110, 111, 58, 15, 526, 528, *_INSTRUMENT),
    ),
    "H": ((11, 55, 54), (37, 790, 1, *_INSTRUMENT)),
    "q": ((11, 530, 60), (55, 54, 1, 58, 336, 625, *_INSTRUMENT)),
}


# str.isdigit() also takes superscript digits ("\u00b2"), which int() and Decimal() refuse:
# every numeric check is ASCII-only.


def _is_digits(v: str) -> bool:
    return v.isdigit() and v.isascii()


def _is_int(v: str) -> bool:
    return _is_digits(v) or (v[:1] == "-" and _is_digits(v[1:]))


def _is_float(v: str) -> bool:
    if v[:1] == "-":
        v = v[1:]
    return _is_digits(v.replace(".", "", 1))


def _is_date(v: str) -> bool:
    return len(v) == 8 and _is_digits(v)


def _is_time(v: str) -> bool:
    return parse_utc_timestamp(v) is not None


_TYPE_CHECKS: Final[dict[str, Callable[[str], bool]]] = {
    "int": _is_int,
    "float": _is_float,
    "char": lambda v: len(v) == 1,
    "bool": lambda v: v in ("Y", "N"),
    "time": _is_time,
    "date": _is_date,
}

#: (SessionRejectReason, RefTagID, Text)
Problem = tuple[int, int | None, str]

#: Fields the venue stores as text, with the width of their columns (specs/persistence.md):
#: a longer value, or one holding a NUL (which PostgreSQL text cannot), is refused here.
STORED_LENGTHS: Final = {1: 200, 11: 200, 41: 200, 55: 32}


def _problem(tag: int, v: str) -> Problem | None:
    """The detailed check of one value (slow path, also used when the fast check fails)."""
    limit = STORED_LENGTHS.get(tag)
    if limit is not None:
        if "\x00" in v:
            return (INCORRECT_DATA_FORMAT, tag, "Incorrect data format for value")
        if len(v) > limit:
            return (VALUE_OUT_OF_RANGE, tag,
                    f"Value is incorrect (out of range) for this tag: over {limit} characters")
    type_check = _TYPE_CHECKS.get(FIELDS[tag][1])
    if type_check is not None and not type_check(v):
        return (INCORRECT_DATA_FORMAT, tag, "Incorrect data format for value")
    values = ENUMS.get(tag)
    if values is not None and v not in values:
        return (VALUE_OUT_OF_RANGE, tag, "Value is incorrect (out of range) for this tag")
    multi = MULTI_ENUMS.get(tag)
    if multi is not None and not all(x in multi for x in v.split(" ")):
        return (VALUE_OUT_OF_RANGE, tag, "Value is incorrect (out of range) for this tag")
    return None


def _multi_ok(tag: int) -> Callable[[str], bool]:
    values = MULTI_ENUMS[tag]

    def ok(v: str) -> bool:
        return all(x in values for x in v.split(" "))

    return ok


def _fast_check(tag: int) -> Callable[[str], bool] | None:
    """A cheap predicate that is True for every valid value (False -> run :func:`_problem`)."""
    if tag in STORED_LENGTHS:  # none of them is an enum or a number
        limit = STORED_LENGTHS[tag]
        return lambda v: len(v) <= limit and "\x00" not in v
    if tag in ENUMS:
        return ENUMS[tag].__contains__  # an enum value is also well formed
    if tag in MULTI_ENUMS:
        return _multi_ok(tag)
    kind = FIELDS[tag][1]
    if kind == "int":
        return _is_digits  # negative numbers fall back to _problem
    return _TYPE_CHECKS.get(kind)


class _Spec:
    __slots__ = ("allowed", "checked", "checks", "required")

    def __init__(self, required: tuple[int, ...], optional: tuple[int, ...]) -> None:
        self.required = _HEADER_REQUIRED | frozenset(required)
        self.allowed = HEADER_TAGS | TRAILER_TAGS | frozenset(required) | frozenset(optional)
        # Only body fields: the session checks the header itself (34, 43, 49, 52, 56, 122).
        self.checks = {
            tag: check
            for tag in sorted(frozenset(required) | frozenset(optional))
            if tag in FIELDS and (check := _fast_check(tag)) is not None
        }
        self.checked = frozenset(self.checks)


# Application messages also allow every other field FIX 4.4 defines for them (accepted, unused).
_SPECS: Final = {
    mt: _Spec(req, opt + tuple(sorted(MESSAGE_TAGS.get(mt, frozenset()) - set(req) - set(opt))))
    for mt, (req, opt) in MESSAGES.items()
}


SUPPORTED_MSG_TYPES: Final = frozenset(_SPECS)


def is_supported(msg_type: str) -> bool:
    """True for the session messages and the application messages the venue accepts."""
    return msg_type in _SPECS


_HEADER_TAG_TEXT: Final = frozenset(str(tag) for tag in HEADER_TAGS)


def _misplaced_header_tag(msg: Message) -> int | None:
    """The first standard header tag that follows a body tag (FIX test case 14g), or None."""
    tokens = msg._tokens
    tags: list[str] | list[int]
    header: frozenset[str] | frozenset[int]
    if tokens is not None:  # the parser's fast path: tag, value, tag, value ...
        tags, header = tokens[6::2], _HEADER_TAG_TEXT
    else:
        tags, header = [tag for tag, _ in msg.fields[3:]], HEADER_TAGS
    for i, tag in enumerate(tags):
        if tag not in header:  # the first body tag: no header tag may come after it
            rest = tags[i:]
            if header.isdisjoint(rest):
                return None
            return next(int(t) for t in rest if t in header)
    return None


def validate(msg: Message) -> Problem | None:
    """Check a message of a supported type; returns the first problem or None.

    Covers FIX test cases 14a (invalid tag number), 14b (required tag missing), 14c (tag not
    defined for this message type), 14d (tag without value), 14e (value out of range), 14f
    (incorrect data format), 14g (header tag after a body tag), 14h (repeated tag).
    """
    if msg.error is not None:
        return msg.error
    misplaced = _misplaced_header_tag(msg)
    if misplaced is not None:  # 14g
        return (TAG_OUT_OF_ORDER, misplaced, "Tag specified out of required order")
    spec = _SPECS[msg.msg_type]
    index = msg._index
    if not index.keys() >= spec.required:
        missing = min(t for t in spec.required if t not in index)
        return (REQUIRED_TAG_MISSING, missing, "Required tag missing")
    keys = index.keys()
    if not keys <= spec.allowed:
        for tag, _ in msg.fields:
            if tag not in spec.allowed:
                if tag in FIELDS or tag in DEFINED_TAGS:
                    return (TAG_NOT_DEFINED_FOR_MSG_TYPE, tag,
                            "Tag not defined for this message type")
                if tag >= USER_DEFINED_TAGS_START:
                    return (UNDEFINED_TAG, tag, "Undefined Tag")
                return (INVALID_TAG_NUMBER, tag, "Invalid tag number")
    checks = spec.checks
    for tag in spec.checked & keys:
        v = index[tag]
        if not checks[tag](v):
            problem = _problem(tag, v)
            if problem is not None:
                return problem
    return None
