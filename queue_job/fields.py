"""JSON storage of job arguments and recordsets (never pickled)."""

import json

from psycopg2.extras import Json as PsycopgJson

from odoo import fields, models
from odoo.tools.func import lazy

from .engine import codec

RECORDSET_TYPE = "odoo_recordset"


def encode_recordset(value):
    """Tagged form of a recordset, or None for anything else."""
    if isinstance(value, models.BaseModel):
        return {
            codec.TYPE_KEY: RECORDSET_TYPE,
            "model": value._name,
            "ids": list(value._ids),
            "uid": value.env.uid,
            "su": value.env.su,
            "context": value._job_prepare_context_before_enqueue(),
        }
    if isinstance(value, lazy):
        return codec.to_jsonable(value._value)
    return None


def _etree_hooks():
    # XML elements were accepted by OCA; keep reading and writing them.
    from lxml import etree

    def encode(value):
        if isinstance(value, etree._Element):
            return {codec.TYPE_KEY: "etree_element", "value": etree.tostring(value, encoding=str)}
        return None

    def decode(obj):
        return etree.fromstring(obj["value"])

    return encode, decode


_encode_etree, _decode_etree = _etree_hooks()


def _encode_extra(value):
    return encode_recordset(value) or _encode_etree(value)


def decoders(env):
    """Decoders for tagged objects that need an environment."""

    def recordset(obj):
        model_env = env(user=obj.get("uid") or env.uid, su=obj.get("su", env.su))
        if obj["model"] not in model_env.registry:
            raise codec.UndecodableValue(f"model {obj['model']!r} does not exist (any more)")
        model = model_env[obj["model"]]
        if obj.get("context"):
            model = model.with_context(**obj["context"])
        return model.browse(obj.get("ids") or [])

    return {RECORDSET_TYPE: recordset, "etree_element": _decode_etree}


def to_jsonable(value, path):
    """JSON-ready form of a job value; raises codec.UnstorableArgument naming ``path``."""
    return codec.to_jsonable(value, path, _encode_extra)


def loads_value(value, env):
    """Decode a value read from a jsonb column (already parsed by psycopg2)."""
    if isinstance(value, (str, bytes)):
        return loads(value, env)
    return codec.from_jsonable(value, decoders(env))


def dumps(value):
    """JSON text of a value; raises codec.UnstorableArgument naming what fails."""
    return codec.dumps(value, _encode_extra)


def loads(text, env):
    return codec.loads(text, decoders(env))


class JobEncoder(json.JSONEncoder):
    """``json.dumps(value, cls=JobEncoder)``: recordsets, dates and the like."""

    def default(self, o):
        tagged = _encode_extra(o)
        if tagged is None:
            tagged = codec._encode_builtin(o)
        if tagged is None:
            return super().default(o)
        return tagged


class JobDecoder(json.JSONDecoder):
    """``json.loads(text, cls=JobDecoder, env=env)``: inverse of JobEncoder."""

    def __init__(self, *args, env, **kwargs):
        self.env = env
        self._decoders = decoders(env)
        super().__init__(*args, object_hook=self._object_hook, **kwargs)

    def _object_hook(self, obj):
        if codec.TYPE_KEY not in obj:
            return obj
        return codec.from_jsonable(obj, self._decoders)


class JobSerialized(fields.Json):
    """A jsonb column holding job data, decoded to Python on read.

    ``base_type`` is the type read back for an empty value: ``dict``,
    ``list``, ``tuple`` or ``models.BaseModel`` (an empty recordset).
    """

    type = "job_serialized"
    _column_type = ("jsonb", "jsonb")
    _base_type = None

    def __init__(self, string=fields.SENTINEL, base_type=fields.SENTINEL, **kwargs):
        super().__init__(string=string, _base_type=base_type, **kwargs)

    def _setup_attrs(self, model_class, name):
        super()._setup_attrs(model_class, name)
        if self._base_type not in (dict, list, tuple, models.BaseModel):
            raise ValueError(f"{model_class._name}.{name}: unsupported base_type {self._base_type!r}")

    def _empty(self, env):
        if self._base_type is models.BaseModel:
            return env["base"]
        return self._base_type()

    # The cache holds the JSON-ready form (tagged objects not yet decoded):
    # decoding a recordset needs the environment of whoever reads it.
    def convert_to_cache(self, value, record, validate=True):
        if value is None or value is False:
            return None
        if isinstance(value, str):
            return json.loads(value)
        if codec.contains_tags(value):
            return value  # read back from the column
        return codec.to_jsonable(value, self.name, _encode_extra)

    def convert_to_column(self, value, record, values=None, validate=True):
        cached = self.convert_to_cache(value, record, validate=validate)
        return None if cached is None else PsycopgJson(cached)

    def convert_to_record(self, value, record):
        if value is None or value is False or value == "":
            return self._empty(record.env)
        result = codec.from_jsonable(value, decoders(record.env))
        if self._base_type is tuple and isinstance(result, list):
            return tuple(result)
        return result

    def convert_to_read(self, value, record, use_display_name=True):
        # RPC clients get JSON, not Python objects.
        if value is None or value is False:
            return False
        return codec.to_jsonable(value, self.name, _encode_extra)

    def convert_to_export(self, value, record):
        return json.dumps(value, cls=JobEncoder) if value else ""


MAX_RECORD_REFS = 10_000  # references kept per job; a bigger job is found by its first records


def record_refs(recordset, args=(), kwargs=None):
    """``"model,id"`` of the records a job runs on: its recordset, then recordsets passed as arguments.

    Stored at enqueue in an indexed array, so that the jobs of a record are
    found without reading the stored arguments of every job.
    """
    refs = [f"{recordset._name},{record_id}" for record_id in recordset._ids if isinstance(record_id, int)]
    for value in (*args, *(kwargs or {}).values()):
        if isinstance(value, models.BaseModel):
            refs.extend(f"{value._name},{record_id}" for record_id in value._ids if isinstance(record_id, int))
    if len(refs) > 1:
        refs = list(dict.fromkeys(refs))
    return refs[:MAX_RECORD_REFS] or None


class RecordRefs(fields.Field):
    """A ``varchar[]`` of ``"model,id"`` references (see record_refs()), searched through a GIN index."""

    type = "job_record_refs"
    _column_type = ("varchar[]", "varchar[]")

    def convert_to_column(self, value, record, values=None, validate=True):
        return list(value) if value else None

    def convert_to_cache(self, value, record, validate=True):
        return tuple(value) if value else None

    def convert_to_record(self, value, record):
        return list(value) if value else []

    def convert_to_read(self, value, record, use_display_name=True):
        return list(value) if value else False

    def convert_to_export(self, value, record):
        return " ".join(value) if value else ""
