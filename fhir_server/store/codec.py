"""BSON codec options: FHIR decimals are stored as Decimal128, so they keep their precision.

Request bodies are parsed with decimals as :class:`decimal.Decimal` (``fhir_server.jsonio``); the
type registry stores them as BSON Decimal128 (34 significant digits, the validator refuses more)
and reads them back as ``Decimal``, which ``dump_json`` prints with the text it was sent with.
The search index keeps its own numeric form (doubles), so range queries and sorting are unchanged.
"""

from __future__ import annotations

from decimal import Decimal

from bson.codec_options import TypeCodec, TypeRegistry
from bson.decimal128 import Decimal128


class DecimalCodec(TypeCodec):
    python_type = Decimal
    bson_type = Decimal128

    def transform_python(self, value: Decimal) -> Decimal128:
        return Decimal128(value)

    def transform_bson(self, value: Decimal128) -> Decimal:
        return value.to_decimal()


DECIMAL_TYPE_REGISTRY = TypeRegistry([DecimalCodec()])
