#!/usr/bin/env python3
"""A validating mock server for `cargo xtask conformance`, built on openapi-core.

Prism cannot load descriptions with circular references such as Stripe's, so connectors marked
`mock = "openapi-core"` in specs/manifest.toml are checked against this stand-in. It speaks the same
protocol to the harness as Prism:

    python3 mock.py SPEC --host 127.0.0.1 --port N [--dynamic] [--seed S]

* Ready: one line `validator is listening on http://HOST:PORT` on stdout (nothing else goes there).
* Every request is matched to an operation and validated by openapi-core (path, query, headers,
  cookies, security, body). Violations are `{"location": ["request", part, ...], "severity":
  "Error", "code": ..., "message": ...}`. An unknown path or method gets 404 with a violation at
  `["request"]`; any other request violation gets 422, body `{"violations": [...]}` and the header
  `sl-violations: [...]` (one-line JSON), as Prism does.
* A valid request gets the operation's lowest declared 2xx response (else `default`), with its
  `application/json` content (else the first content type). The body is the media type's
  `example` (or first of `examples`) in static mode, else one built from the schema by the builder
  below; `--dynamic` always builds a random one (seeded by `--seed`). The answer is itself checked
  with openapi-core's response validator and its violations (located at `["response", ...]`) go in
  `sl-violations`, so a faulty body builder, or a description no body can satisfy, shows up.

What is ours and what is openapi-core's:
* Validation (schemas, parameters, security, content types) is openapi-core's throughout.
* Parsing bracket keys (`metadata[k]=v`, `items[0][price]=p`, `expand[0]=a`, `expand[]=a`) into
  nested values is ours, for form bodies and for `deepObject` query parameters: openapi-core 0.23
  reads only one bracket level, only for `type: object`, and fails on any `deepObject` parameter whose
  schema is an array or an `anyOf` even when the parameter is absent. So is turning form text into
  the schema's types (integer, number, boolean, arrays from indexed keys or repeated keys), done
  before openapi-core validates, since form values are all text.
* The body builder and the small regular-expression example generator are ours. The generator walks
  the parse tree from Python's own `re` parser; Stripe's patterns are all literal prefixes such as
  `^/v1/customers`, so no third-party package (exrex, rstr) is needed, and a hand-written walk keeps
  static bodies deterministic and the dependency list to openapi-core alone.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import random
import re
import socket
import sys
import threading
import time
import traceback
from collections import defaultdict, deque
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

try:  # Python 3.11+: the parser behind `re`; older Pythons name it sre_parse.
    import re._constants as _sre_c  # type: ignore[import-not-found]
    import re._parser as _sre_p  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    import sre_constants as _sre_c  # type: ignore[no-redef]
    import sre_parse as _sre_p  # type: ignore[no-redef]

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
INF = math.inf
# Nesting (objects and arrays) from which the builder only makes what validity requires.
DEPTH_CAP = 6
# Values built for one body after which the builder also only makes what validity requires.
NODE_BUDGET = 4000
# Hard stop against a description whose required properties form a cycle (no finite instance).
DEPTH_LIMIT = 80
SKIP = object()  # "leave this optional property out" (e.g. a pattern the generator cannot satisfy)


def log(*parts: object) -> None:
    print("validator:", *parts, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# The document and its references


def load_document(path: str) -> dict:
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".json"):
        doc = json.loads(data)
    else:
        import yaml  # PyYAML comes with openapi-core's dependencies

        doc = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if not isinstance(doc, dict) or not ("openapi" in doc or "swagger" in doc):
        raise ValueError("not an OpenAPI description (no `openapi` field at the top)")
    return doc


class Document:
    """The raw description with local `$ref` resolution (`#/a/b~1c`)."""

    def __init__(self, raw: dict):
        self.raw = raw
        self._pointers: dict[str, object] = {}

    def pointer(self, ref: str) -> object:
        hit = self._pointers.get(ref)
        if hit is not None:
            return hit
        if not ref.startswith("#"):
            raise KeyError(f"only local references are supported: {ref}")
        node: object = self.raw
        for part in ref[1:].split("/")[1:] if ref != "#" else []:
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]  # type: ignore[index]
        self._pointers[ref] = node
        return node

    def deref(self, s: object) -> object:
        seen = 0
        while isinstance(s, dict) and isinstance(s.get("$ref"), str):
            s = self.pointer(s["$ref"])
            seen += 1
            if seen > 64:
                raise ValueError("reference loop")
        return s


def schema_type(s: dict) -> str | None:
    t = s.get("type")
    if isinstance(t, list):  # OpenAPI 3.1: the first non-null type
        t = next((x for x in t if x != "null"), None)
    if t is None:
        if "properties" in s or "additionalProperties" in s or "required" in s:
            return "object"
        if "items" in s:
            return "array"
    return t


def null_allowed(s: dict) -> bool:
    """Whether openapi-core accepts null here. Under OpenAPI 3.0.3 `nullable: true` counts only beside
    a `type` in the same schema, and `enum` still applies to null; 3.1 spells it as a `null` type."""
    t = s.get("type")
    if isinstance(t, list):
        ok = "null" in t
    else:
        ok = t == "null" or (s.get("nullable") is True and t is not None)
    if ok and "enum" in s:
        ok = None in s["enum"]
    return ok


# --------------------------------------------------------------------------------------------------
# Form text and bracket keys (ours). Validation of the result is openapi-core's.

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEG = re.compile(r"\[([^\[\]]*)\]")


def split_key(key: str) -> list[str]:
    """`items[0][price]` -> ["items", "0", "price"]; `expand[]` -> ["expand", ""]."""
    m = _KEY.match(key)
    if not m:
        return [key]
    return [m.group(1)] + _SEG.findall(m.group(2))


def _insert(node: dict | list, segs: list[str], value: str) -> None:
    key, rest = segs[0], segs[1:]
    if isinstance(node, list):  # only `[]` (append) leads into a list
        if not rest:
            node.append(value)
            return
        child: dict | list = [] if rest[0] == "" else {}
        node.append(child)
        _insert(child, rest, value)
        return
    if not rest:
        if key in node:  # a repeated key becomes a list: `tags=a&tags=b`
            old = node[key]
            node[key] = old + [value] if isinstance(old, list) else [old, value]
        else:
            node[key] = value
        return
    child = node.get(key)
    if isinstance(child, list) and rest[0] != "":
        child = {str(i): x for i, x in enumerate(child)}
        node[key] = child
    elif not isinstance(child, (dict, list)):
        child = [] if rest[0] == "" else {}
        node[key] = child
    _insert(child, rest, value)


def parse_multipart(body: bytes) -> list[tuple[str, str]] | None:
    """The (name, value) pairs of a multipart/form-data body, in order, repeated names kept. The
    boundary is the body's first line. File parts' bytes become text (latin-1, so no byte is lost);
    None when the body is not multipart."""
    first, sep, _ = body.partition(b"\r\n")
    if not sep or not first.startswith(b"--") or len(first) < 3:
        return None
    delimiter = first
    pairs: list[tuple[str, str]] = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            return None
        if data.endswith(b"\r\n"):
            data = data[:-2]
        name = None
        for line in head.decode("latin-1").split("\r\n"):
            key, _, rest = line.partition(":")
            if key.strip().lower() == "content-disposition":
                m = re.search(r'(?:^|;)\s*name="((?:[^"\\]|\\.)*)"', rest)
                if m:
                    name = m.group(1).replace('\\"', '"')
        if name is None:
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        pairs.append((name, text))
    return pairs


def parse_pairs(pairs: list[tuple[str, str]]) -> dict:
    """Nest bracketed key/value pairs. Indexed keys stay dict keys ("0", "1") until `shape` learns
    from the schema whether that level is an array."""
    root: dict = {}
    for key, value in pairs:
        _insert(root, split_key(key), value)
    return root


_INT = re.compile(r"^[+-]?\d+$")
_NUM = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _fits_as_is(doc: Document, v: object, s: object) -> bool:
    s = doc.deref(s)
    if not isinstance(s, dict):
        return True
    alts = s.get("anyOf") or s.get("oneOf")
    if alts:
        return any(_fits_as_is(doc, v, b) for b in alts)
    if "enum" in s and v not in s["enum"]:
        return False
    t = schema_type(s)
    if t is None:
        return True
    return {
        "string": lambda: isinstance(v, str),
        "object": lambda: isinstance(v, dict),
        "array": lambda: isinstance(v, list),
        "integer": lambda: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda: isinstance(v, bool),
    }.get(t, lambda: True)()


def _fits_converted(doc: Document, v: object, s: object) -> bool:
    s = doc.deref(s)
    if not isinstance(s, dict):
        return False
    alts = s.get("anyOf") or s.get("oneOf")
    if alts:
        return any(_fits_converted(doc, v, b) for b in alts)
    t = schema_type(s)
    if isinstance(v, str):
        return (
            (t == "integer" and bool(_INT.match(v)))
            or (t == "number" and bool(_NUM.match(v)))
            or (t == "boolean" and v in ("true", "false"))
            or (t == "array" and v != "")
        )
    if isinstance(v, dict):
        return t == "array" and bool(v) and all(k.isdigit() for k in v)
    return False


def _object_score(doc: Document, v: dict, s: object) -> float:
    """How well a dict matches an object branch: matched property names, minus misses."""
    s = doc.deref(s)
    if not isinstance(s, dict) or schema_type(s) != "object":
        return -INF
    props = s.get("properties") or {}
    score = sum(1 for k in v if k in props)
    if s.get("additionalProperties") is False:
        score -= 10 * sum(1 for k in v if k not in props)
    score -= sum(1 for r in s.get("required") or [] if r not in v)
    return score


def _pick_branch(doc: Document, v: object, alts: list) -> object | None:
    if isinstance(v, dict):
        objects = [(b, _object_score(doc, v, b)) for b in alts]
        objects = [(b, sc) for b, sc in objects if sc > -INF]
        if objects:
            return max(objects, key=lambda x: x[1])[0]
    for b in alts:
        if _fits_as_is(doc, v, b):
            return b
    for b in alts:
        if _fits_converted(doc, v, b):
            return b
    return None


def shape(doc: Document, v: object, s: object, depth: int = 0) -> object:
    """Turn form text into the types the schema asks for; leave what does not convert as it is, so
    that openapi-core reports it."""
    s = doc.deref(s)
    if not isinstance(s, dict) or depth > DEPTH_LIMIT:
        return v
    for part in s.get("allOf") or []:
        v = shape(doc, v, part, depth + 1)
    alts = s.get("anyOf") or s.get("oneOf")
    if alts:
        b = _pick_branch(doc, v, alts)
        return v if b is None else shape(doc, v, b, depth + 1)
    t = schema_type(s)
    if t == "array":
        if isinstance(v, dict) and v and all(k.isdigit() for k in v):
            v = [v[k] for k in sorted(v, key=int)]
        elif not isinstance(v, list) and v != "":
            v = [v]
        if isinstance(v, list):
            return [shape(doc, x, s.get("items") or {}, depth + 1) for x in v]
        return v
    if t == "object":
        if not isinstance(v, dict):
            return v
        props = s.get("properties") or {}
        extra = s.get("additionalProperties")
        extra = extra if isinstance(extra, dict) else {}
        return {k: shape(doc, x, props.get(k, extra), depth + 1) for k, x in v.items()}
    if isinstance(v, str):
        if t == "integer" and _INT.match(v):
            return int(v)
        if t == "number" and _NUM.match(v):
            f = float(v)
            return int(f) if f.is_integer() and "." not in v and "e" not in v.lower() else f
        if t == "boolean" and v in ("true", "false"):
            return v == "true"
    return v


# --------------------------------------------------------------------------------------------------
# openapi-core set-up


def build_validators(doc: Document, check_spec: bool):
    """openapi-core's request and response validators, with our bracket parsing plugged in."""
    from jsonschema_path import SchemaPath
    from openapi_core import Config, OpenAPI
    from openapi_core.deserializing.media_types import media_type_deserializers
    from openapi_core.deserializing.media_types.exceptions import MediaTypeDeserializeError
    from openapi_core.deserializing.media_types.factories import MediaTypeDeserializersFactory
    from openapi_core.deserializing.styles import style_deserializers
    from openapi_core.deserializing.styles.factories import StyleDeserializersFactory

    config = Config() if check_spec else Config(spec_validator_cls=None)
    app = OpenAPI(SchemaPath.from_dict(doc.raw), config=config)  # checks the description

    # The bracket parsing below (form bodies, deepObject query parameters) is ours: openapi-core 0.23
    # reads one bracket level of `type: object` only. Everything it returns is then validated by
    # openapi-core itself (`_validate_schema` on the body, the parameter schema for queries).
    class BracketForm:
        """Stands in for openapi-core's deserializer of form bodies: our parsing, then shaping."""

        def __init__(self, inner, schema):
            self.inner, self.schema = inner, schema

        def deserialize(self, value: bytes):
            try:
                text = value.decode("utf-8") if isinstance(value, bytes) else value
                tree = parse_pairs(parse_qsl(text, keep_blank_values=True))
            except (UnicodeDecodeError, ValueError):
                raise MediaTypeDeserializeError(FORM, value)
            if self.schema is None:
                return tree
            return shape(doc, tree, self.schema.read_value())

    class BracketMultipart:
        """Multipart bodies: our reading of the parts (every part kept, bracket names nested, text
        shaped to the schema's types), so that repeated and bracket-named parts validate like form
        pairs; openapi-core's own reading keeps one part per name and casts none."""

        def __init__(self, schema):
            self.schema = schema

        def deserialize(self, value: bytes):
            pairs = parse_multipart(value if isinstance(value, bytes) else value.encode("utf-8"))
            if pairs is None:
                raise MediaTypeDeserializeError(MULTIPART, value)
            tree = parse_pairs(pairs)
            if self.schema is None:
                return tree
            return shape(doc, tree, self.schema.read_value())

    class MediaTypes(MediaTypeDeserializersFactory):
        def create(self, spec, mimetype, schema=None, *args, **kwargs):
            inner = super().create(spec, mimetype, schema, *args, **kwargs)
            if mimetype == FORM:
                return BracketForm(inner, schema)
            if mimetype == MULTIPART:
                return BracketMultipart(schema)
            return inner

    def deep_object(raw_schema):
        def load(explode, name, schema_type_name, location):
            pairs = [
                (k, v)
                for k, vs in location.lists()
                for v in vs
                if k == name or (k.startswith(name + "[") and split_key(k)[0] == name)
            ]
            if not pairs:
                raise KeyError(name)
            return shape(doc, parse_pairs(pairs)[name], raw_schema)

        return load

    class Styles(StyleDeserializersFactory):
        def create(self, spec, schema, style, explode, name):
            made = super().create(spec, schema, style, explode, name)
            if style == "deepObject":
                made.deserializer_callable = deep_object(schema.read_value())
            return made

    def validator(cls):
        styles = Styles(cls.schema_casters_factory, style_deserializers=style_deserializers)
        return cls(
            app.spec,
            style_deserializers_factory=styles,
            media_type_deserializers_factory=MediaTypes(styles, media_type_deserializers),
        )

    return app, validator(app.request_validator_cls), validator(app.response_validator_cls)


class Request:
    """The openapi-core view of one HTTP request."""

    def __init__(self, host_url, method, path, query, headers, body, content_type):
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        cookies: list[tuple[str, str]] = []
        for value in [v for k, v in headers if k.lower() == "cookie"]:
            jar = SimpleCookie()
            try:
                jar.load(value)
            except Exception:  # a malformed cookie header: validate as if absent
                continue
            cookies.extend((k, m.value) for k, m in jar.items())
        self.host_url = host_url
        self.method = method.lower()
        self.path = path
        self.body = body
        self.content_type = content_type
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(query),
            header=Headers(headers),
            cookie=ImmutableMultiDict(cookies),
        )


class Response:
    def __init__(self, status, content_type, data, headers):
        from werkzeug.datastructures import Headers

        self.status_code = status
        self.content_type = content_type
        self.data = data
        self.headers = Headers(headers)


# --------------------------------------------------------------------------------------------------
# openapi-core errors -> Prism-style violations


def violation(location: list, code: str, message: str) -> dict:
    return {
        "location": [str(p) if not isinstance(p, int) else p for p in location],
        "severity": "Error",
        "code": code,
        "message": message[:600],
    }


def _text(e: BaseException) -> str:
    try:
        return str(e) or type(e).__name__
    except Exception:
        return type(e).__name__


def _schema_violations(where: list, cause: BaseException | None, fallback: str) -> list[dict]:
    errors = list(getattr(cause, "schema_errors", None) or [])
    if not errors:
        return [violation(where, type(cause).__name__ if cause else "invalid", fallback)]
    out = []
    for se in errors:
        path, code, message = list(se.path), str(se.validator), se.message
        note = ""
        # For anyOf/oneOf, report the sub-error that got furthest into the value: its place and
        # wording say more than "not valid under any of the given schemas".
        context = getattr(se, "context", None)
        while context:
            inner = max(context, key=lambda x: len(x.absolute_path))
            note = note or f" (no branch of `{code}` at /{'/'.join(map(str, path))} matches; this is the closest)"
            path, code, message = list(inner.absolute_path), str(inner.validator), inner.message
            context = inner.context
        if len(message) > 400:
            message = message[:400] + "..."
        out.append(violation(where + path, code, message + note))
    return out


def request_violations(errors) -> list[dict]:
    from openapi_core.validation.request.exceptions import (
        MissingRequiredParameter,
        MissingRequiredRequestBody,
        ParameterValidationError,
        RequestBodyValidationError,
        SecurityValidationError,
    )

    out: list[dict] = []
    for e in errors:
        cause = e.__cause__
        if isinstance(e, SecurityValidationError):
            schemes = getattr(cause, "schemes", None)
            wanted = " or ".join("+".join(s) for s in schemes) if schemes else "?"
            out.append(
                violation(
                    ["request", "header", "Authorization"],
                    "security",
                    f"no security requirement is met (needs {wanted})",
                )
            )
        elif isinstance(e, MissingRequiredParameter):
            out.append(
                violation(["request", e.location, e.name], "required", f"missing required {e.location} parameter `{e.name}`")
            )
        elif isinstance(e, ParameterValidationError):
            where = ["request", e.location, e.name]
            if getattr(cause, "schema_errors", None):
                out.extend(_schema_violations(where, cause, _text(e)))
            else:
                out.append(violation(where, type(cause).__name__ if cause else "invalid", f"{_text(e)}: {_text(cause) if cause else ''}"))
        elif isinstance(e, MissingRequiredRequestBody):
            out.append(violation(["request", "body"], "required", "missing required request body"))
        elif isinstance(e, RequestBodyValidationError):
            name = type(cause).__name__ if cause else "invalid"
            if name == "MediaTypeDeserializeError":
                out.append(violation(["request", "body"], "deserialize", f"the body is not valid {getattr(cause, 'mimetype', 'content')}"))
            elif name == "MediaTypeNotFound":
                out.append(violation(["request", "header", "content-type"], "content-type", _text(cause)))
            elif getattr(cause, "schema_errors", None):
                out.extend(_schema_violations(["request", "body"], cause, _text(e)))
            else:
                out.append(violation(["request", "body"], name, _text(cause) if cause else _text(e)))
        else:
            out.append(violation(["request"], type(e).__name__, _text(e)))
    return out


def response_violations(errors) -> list[dict]:
    from openapi_core.validation.response.exceptions import DataValidationError, HeaderValidationError

    out: list[dict] = []
    for e in errors:
        cause = e.__cause__
        if isinstance(e, DataValidationError):
            if getattr(cause, "schema_errors", None):
                out.extend(_schema_violations(["response", "body"], cause, _text(e)))
            else:
                out.append(violation(["response", "body"], type(cause or e).__name__, _text(cause or e)))
        elif isinstance(e, HeaderValidationError):
            where = ["response", "header", e.name]
            if getattr(cause, "schema_errors", None):
                out.extend(_schema_violations(where, cause, _text(e)))
            else:
                out.append(violation(where, type(e).__name__, _text(e)))
        else:
            out.append(violation(["response"], type(e).__name__, _text(e)))
    return out


# --------------------------------------------------------------------------------------------------
# Example strings for `pattern` (ours), from the parse tree of Python's `re`


class NoExample(Exception):
    pass


def pattern_example(pattern: str, rng: random.Random | None) -> str | None:
    """A string that `re.search(pattern, s)` accepts, or None when the pattern is beyond this walk
    (look-arounds, back-references into alternations, ...)."""
    try:
        tree = _sre_p.parse(pattern)
        groups: dict[int, str] = {}
        out = _gen(tree, rng, groups)
    except (NoExample, re.error, RecursionError, ValueError, TypeError):
        return None
    return out if re.search(pattern, out) else None


_CATEGORY = {
    "CATEGORY_DIGIT": "0123456789",
    "CATEGORY_NOT_DIGIT": "abcxyz",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": "abc012",
    "CATEGORY_WORD": "abcxyz012_",
    "CATEGORY_NOT_WORD": "-. ",
}
_PROBE = "abcdefxyzABCXYZ0123456789_-. /:@"


def _class_chars(items) -> list[str]:
    chars: list[str] = []
    negate = False
    for op, av in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            chars.append(chr(av))
        elif name == "RANGE":
            lo, hi = av
            chars.extend(chr(c) for c in range(lo, min(hi, lo + 25) + 1))
        elif name == "CATEGORY":
            chars.extend(_CATEGORY.get(str(av), "a"))
    if negate:
        banned = set(chars)
        chars = [c for c in _PROBE if c not in banned]
    if not chars:
        raise NoExample
    return chars


def _gen(tree, rng, groups) -> str:
    out = []
    for op, av in tree:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(av))
        elif name == "NOT_LITERAL":
            out.append("a" if chr(av) != "a" else "b")
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            chars = _class_chars(av)
            out.append(rng.choice(chars) if rng else chars[0])
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            lo, hi, sub = av
            hi = lo + 3 if hi == _sre_c.MAXREPEAT else hi
            n = rng.randint(lo, max(lo, min(hi, lo + 3))) if rng else lo
            out.extend(_gen(sub, rng, groups) for _ in range(n))
        elif name == "SUBPATTERN":
            group, _add, _del, sub = av
            text = _gen(sub, rng, groups)
            if group is not None:
                groups[group] = text
            out.append(text)
        elif name == "ATOMIC_GROUP":
            out.append(_gen(av, rng, groups))
        elif name == "BRANCH":
            _, alts = av
            out.append(_gen(rng.choice(alts) if rng else alts[0], rng, groups))
        elif name == "GROUPREF":
            if av not in groups:
                raise NoExample
            out.append(groups[av])
        elif name == "AT":
            continue  # anchors add no text
        elif name == "CATEGORY":
            out.append(_CATEGORY.get(str(av), "a")[0])
        else:  # look-arounds, conditionals
            raise NoExample
    return "".join(out)


# --------------------------------------------------------------------------------------------------
# Body builder (ours)


class Costs:
    """Size of the smallest instance our builder can make for each schema, so that `anyOf`/`oneOf`
    branches and recursion can be chosen to terminate. Computed once over all `$ref` targets by a
    worklist fixed point (Stripe's references are cyclic); INF marks a schema with no finite
    instance, i.e. a cycle of required, non-nullable properties."""

    def __init__(self, doc: Document):
        self.doc = doc
        self.table: dict[str, float] = {}
        refs: list[str] = []
        seen: set[str] = set()

        def walk(o):
            if isinstance(o, dict):
                r = o.get("$ref")
                if isinstance(r, str) and r not in seen and r.startswith("#"):
                    seen.add(r)
                    refs.append(r)
                for v in o.values():
                    walk(v)
            elif isinstance(o, list):
                for v in o:
                    walk(v)

        walk(doc.raw)
        for r in refs:
            self.table[r] = INF
        dependents: dict[str, set[str]] = defaultdict(set)
        work = deque(refs)
        queued = set(refs)
        while work:
            r = work.popleft()
            queued.discard(r)
            used: set[str] = set()
            try:
                c = self._local(doc.pointer(r), used, 0)
            except (KeyError, IndexError, TypeError):
                c = INF
            for u in used:
                dependents[u].add(r)
            if c < self.table[r]:
                self.table[r] = c
                for d in dependents[r]:
                    if d not in queued:
                        queued.add(d)
                        work.append(d)

    def _local(self, s, used: set[str], depth: int) -> float:
        if not isinstance(s, dict) or depth > DEPTH_LIMIT:
            return 1
        r = s.get("$ref")
        if isinstance(r, str):
            used.add(r)
            return self.table.get(r, INF)
        if null_allowed(s) or "enum" in s:
            return 1
        total = 0.0
        for part in s.get("allOf") or []:
            total += self._local(part, used, depth + 1)
        alts = s.get("anyOf") or s.get("oneOf")
        if alts:
            return total + min(self._local(b, used, depth + 1) for b in alts)
        t = schema_type(s)
        if t == "object":
            props = s.get("properties") or {}
            return total + 1 + sum(self._local(props.get(n, {}), used, depth + 1) for n in s.get("required") or [])
        if t == "array":
            n = s.get("minItems") or 0
            return total + 1 + (n * self._local(s.get("items") or {}, used, depth + 1) if n else 0)
        return total + 1

    def of(self, s) -> float:
        return self._local(s, set(), 0)


def merge_all_of(doc: Document, s: dict) -> dict:
    """`allOf` flattened into one schema (properties and required united, other keys first-wins)."""
    merged: dict = {k: v for k, v in s.items() if k != "allOf"}
    for part in s.get("allOf") or []:
        part = doc.deref(part)
        if isinstance(part, dict) and "allOf" in part:
            part = merge_all_of(doc, part)
        if not isinstance(part, dict):
            continue
        for k, v in part.items():
            if k == "properties":
                merged["properties"] = {**v, **(merged.get("properties") or {})}
            elif k == "required":
                merged["required"] = list(dict.fromkeys((merged.get("required") or []) + list(v)))
            else:
                merged.setdefault(k, v)
    return merged


class Builder:
    """Makes one body from a schema. Static (rng None): deterministic, first choices, required
    properties plus optional ones of cost 1, empty arrays where allowed. Dynamic: random choices,
    optional properties with probability 1/2, 0-3 array items, 0-2 extra map entries, sometimes null.
    Past DEPTH_CAP levels or NODE_BUDGET values it makes only what validity requires, choosing the
    cheapest branches (see Costs), so recursion ends."""

    def __init__(self, doc: Document, costs: Costs, rng: random.Random | None):
        self.doc, self.costs, self.rng = doc, costs, rng
        self.nodes = 0

    def build(self, s, depth: int = 0, required: bool = True):
        self.nodes += 1
        s = self.doc.deref(s)
        if not isinstance(s, dict) or not s:
            return "value"
        if "allOf" in s:
            s = merge_all_of(self.doc, s)
        rng = self.rng
        cheap = depth >= DEPTH_CAP or self.nodes > NODE_BUDGET
        if depth > DEPTH_LIMIT:
            return None  # no finite instance: the response validator will say where
        if null_allowed(s) and (cheap or (rng is not None and rng.random() < 0.2)):
            return None
        if "enum" in s:
            values = [v for v in s["enum"] if v is not None] or s["enum"]
            return rng.choice(values) if rng else values[0]
        alts = s.get("anyOf") or s.get("oneOf")
        if alts:
            costs = [self.costs.of(b) for b in alts]
            finite = [b for b, c in zip(alts, costs) if c < INF] or list(alts)
            if cheap:
                pick = alts[min(range(len(alts)), key=lambda i: costs[i])]
            elif rng:
                pick = rng.choice(finite)
            else:
                pick = finite[0]
            return self.build(pick, depth, required)
        t = schema_type(s)
        if t == "object":
            return self.build_object(s, depth, cheap)
        if t == "array":
            return self.build_array(s, depth, cheap)
        if t == "string":
            return self.build_string(s, required)
        if t == "integer":
            return self.build_number(s, integer=True)
        if t == "number":
            return self.build_number(s, integer=False)
        if t == "boolean":
            return rng.random() < 0.5 if rng else False
        if t == "null":
            return None
        return "value"  # an unconstrained schema

    def build_object(self, s: dict, depth: int, cheap: bool) -> dict:
        rng = self.rng
        props = s.get("properties") or {}
        required = set(s.get("required") or [])
        out: dict = {}
        for name, ps in props.items():
            if name in required:
                pass
            elif cheap:
                continue
            elif rng is not None:
                if rng.random() >= 0.5:
                    continue
            elif self.costs.of(ps) > 1 or self.doc.deref(ps) == {}:
                continue
            value = self.build(ps, depth + 1, name in required)
            if value is not SKIP:
                out[name] = value
        extra = s.get("additionalProperties")
        want = s.get("minProperties") or 0
        if extra is not False and extra is not None or want > len(out):
            extra_schema = extra if isinstance(extra, dict) else {"type": "string"}
            n = 0
            if rng is not None and not cheap and extra is not None and extra is not False:
                n = rng.randint(0, 2)
            n = max(n, want - len(out))
            limit = s.get("maxProperties")
            if limit is not None:
                n = min(n, max(0, limit - len(out)))
            i = 0
            while n > 0 and i < n + 20:
                key = f"key_{i}"
                i += 1
                if key in out or key in props:
                    continue
                value = self.build(extra_schema, depth + 1, True)
                if value is not SKIP:
                    out[key] = value
                    n -= 1
        return out

    def build_array(self, s: dict, depth: int, cheap: bool) -> list:
        lo = s.get("minItems") or 0
        hi = s.get("maxItems")
        n = lo
        if self.rng is not None and not cheap:
            top = max(lo, 3 if hi is None else min(hi, 3))
            n = self.rng.randint(lo, top)
        items = s.get("items") or {}
        out: list = []
        tries = 0
        while len(out) < n and tries < n + 20:
            tries += 1
            if tries > 1 and self.rng is None and s.get("uniqueItems"):
                # static first choices repeat themselves; vary them, still deterministically
                saved, self.rng = self.rng, random.Random(tries)
                try:
                    v = self.build(items, depth + 1, True)
                finally:
                    self.rng = saved
            else:
                v = self.build(items, depth + 1, True)
            if v is SKIP:
                continue
            if s.get("uniqueItems") and v in out:
                continue
            out.append(v)
        return out

    def build_string(self, s: dict, required: bool):
        rng = self.rng
        lo = s.get("minLength") or 0
        hi = s.get("maxLength")
        pattern = s.get("pattern")
        if isinstance(pattern, str):
            v = pattern_example(pattern, rng)
            if v is None or len(v) < lo or (hi is not None and len(v) > hi):
                return "value" if required else SKIP
            return v
        fmt = s.get("format")
        if fmt == "date-time":
            v = "2020-08-27T12:00:00Z" if not rng else f"2020-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T12:34:56Z"
        elif fmt == "date":
            v = "2020-08-27" if not rng else f"2020-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
        elif fmt == "time":
            v = "12:00:00Z"
        elif fmt == "email":
            v = "jenny@example.com"
        elif fmt in ("uri", "url", "uri-reference", "iri"):
            v = "https://example.com/"
        elif fmt == "hostname":
            v = "example.com"
        elif fmt == "ipv4":
            v = "127.0.0.1"
        elif fmt == "ipv6":
            v = "::1"
        elif fmt == "uuid":
            v = "123e4567-e89b-42d3-a456-426614174000"
        elif fmt == "byte":
            v = base64.b64encode(b"stripe" if not rng else os.urandom(6)).decode()
        elif fmt == "binary":
            v = "binary-data"  # openapi-core treats an empty body as missing
        elif fmt == "decimal":
            v = "1.25" if not rng else f"{rng.randint(0, 999)}.{rng.randint(0, 99):02d}"
        elif rng is not None:
            v = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rng.randint(1, 12)))
        else:
            v = "string"
        if len(v) < lo:
            v = v + "x" * (lo - len(v))
        if hi is not None and len(v) > hi:
            v = v[:hi]
        return v

    def build_number(self, s: dict, integer: bool):
        rng = self.rng
        lo, hi = s.get("minimum"), s.get("maximum")
        step = 1 if integer else 0.5
        ex_lo, ex_hi = s.get("exclusiveMinimum"), s.get("exclusiveMaximum")
        if isinstance(ex_lo, bool):  # OpenAPI 3.0: a flag on minimum
            lo = lo + step if ex_lo and lo is not None else lo
        elif isinstance(ex_lo, (int, float)):  # 3.1: the bound itself
            lo = ex_lo + step
        if isinstance(ex_hi, bool):
            hi = hi - step if ex_hi and hi is not None else hi
        elif isinstance(ex_hi, (int, float)):
            hi = ex_hi - step
        if s.get("format") == "unix-time":
            base = 1600000000 + (rng.randint(0, 100000000) if rng else 0)
        elif rng is not None:
            base = rng.randint(0, 1000) if integer else round(rng.uniform(0, 1000), 2)
        else:
            base = 0
        if rng is not None and lo is not None and hi is not None:
            base = rng.uniform(lo, hi)
        if lo is not None and base < lo:
            base = lo
        if hi is not None and base > hi:
            base = hi
        if integer:
            base = math.ceil(base) if lo is not None else math.floor(base)
            if hi is not None and base > hi:
                base = math.floor(hi)
        m = s.get("multipleOf")
        if m:
            q = math.floor(base / m) * m
            if lo is not None and q < lo:
                q += m
            base = int(q) if integer else q
        return base


# --------------------------------------------------------------------------------------------------
# Choosing and making the answer


def pick_response(doc: Document, operation: dict):
    """(status, content type or None, media type object or None, response object)."""
    responses = operation.get("responses") or {}
    codes = [c for c in responses if str(c).isdigit() and 200 <= int(c) < 300]
    ranged = [c for c in responses if str(c).upper() == "2XX"]
    if codes:
        key = min(codes, key=int)
        status = int(key)
    elif ranged:
        key, status = ranged[0], 200
    elif "default" in responses:
        key, status = "default", 200
    elif responses:
        key = min(responses, key=lambda c: int(c) if str(c).isdigit() else 999)
        status = int(key) if str(key).isdigit() else 200
    else:
        return 200, None, None, {}
    response = doc.deref(responses[key]) or {}
    content = response.get("content") or {}
    if not content:
        return status, None, None, response
    mime = "application/json" if "application/json" in content else next(iter(content))
    return status, mime, doc.deref(content[mime]) or {}, response


def media_example(doc: Document, media: dict):
    """The media type's own `example`, or its first `examples` value, or a marker for none."""
    if "example" in media:
        return media["example"]
    examples = media.get("examples")
    if isinstance(examples, dict) and examples:
        first = doc.deref(next(iter(examples.values())))
        if isinstance(first, dict) and "value" in first:
            return first["value"]
    return SKIP


def encode_body(mime: str | None, value) -> tuple[str | None, bytes]:
    if mime is None:
        return None, b""
    concrete = mime if "*" not in mime else "application/octet-stream"
    if "json" in concrete.lower():
        return concrete, json.dumps(value, ensure_ascii=False).encode("utf-8")
    if isinstance(value, (bytes, bytearray)):
        return concrete, bytes(value)
    if isinstance(value, str):
        return concrete, value.encode("utf-8")
    return concrete, json.dumps(value).encode("utf-8")


class Mock:
    """Everything one server needs: the document, openapi-core's validators, the builder's costs."""

    def __init__(self, spec_path: str, dynamic: bool, seed: int | None, check_spec: bool = True):
        self.doc = Document(load_document(spec_path))
        self.app, self.requests, self.responses = build_validators(self.doc, check_spec)
        self.costs = Costs(self.doc)
        self.dynamic = dynamic
        self.seed = seed if seed is not None else int.from_bytes(os.urandom(4), "big")
        self.lock = threading.Lock()
        self.counts: dict[str, int] = defaultdict(int)
        # Every server the description names (top level first, then path and operation ones such
        # as Stripe's files.stripe.com): a request is matched against each in turn.
        servers = list(self.doc.raw.get("servers") or [{"url": "/"}])
        for item in (self.doc.raw.get("paths") or {}).values():
            if isinstance(item, dict):
                servers += item.get("servers") or []
                for op in item.values():
                    if isinstance(op, dict):
                        servers += op.get("servers") or []
        self.bases: list[tuple[str, str]] = []
        for server in servers:
            url = server.get("url") or "/"
            for name, var in (server.get("variables") or {}).items():
                url = url.replace("{" + name + "}", str(var.get("default", "")))
            parts = urlsplit(url)
            host = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "http://localhost"
            base = (host, parts.path.rstrip("/"))
            if base not in self.bases:
                self.bases.append(base)

    @staticmethod
    def full_path(prefix: str, path: str) -> str:
        if prefix and not (path == prefix or path.startswith(prefix + "/")):
            return prefix + path
        return path

    def find(self, method: str, path: str):
        """(host URL, full path, operation) of the first server under which the request matches an
        operation; else raise the most telling of openapi-core's errors."""
        from openapi_core.templating.paths.exceptions import OperationNotFound, PathError, ServerNotFound

        worst: PathError | None = None
        for host, prefix in self.bases:
            full = self.full_path(prefix, path)
            try:
                found = self.requests.path_finder.find(method.lower(), host + full)
                return host, full, found[1]
            except PathError as e:
                rank = {OperationNotFound: 2, ServerNotFound: 1}.get(type(e), 0)
                if worst is None or rank > {OperationNotFound: 2, ServerNotFound: 1}.get(type(worst), 0):
                    worst = e
        assert worst is not None
        raise worst

    def build_body(self, schema, rng: random.Random | None):
        return Builder(self.doc, self.costs, rng).build(schema)

    def answer(self, status: int, mime, media, response, rng) -> tuple[int, str | None, bytes, list]:
        headers = []
        for name, h in (response.get("headers") or {}).items():
            h = self.doc.deref(h)
            if isinstance(h, dict) and h.get("required") and name.lower() != "content-type":
                v = Builder(self.doc, self.costs, None).build(h.get("schema") or {})
                headers.append((name, v if isinstance(v, str) else json.dumps(v)))
        if mime is None:
            return status, None, b"", headers
        value = SKIP if rng is not None else media_example(self.doc, media)
        if value is SKIP:
            value = self.build_body(media.get("schema") or {}, rng)
        ctype, data = encode_body(mime, value)
        return status, ctype, data, headers

    def handle(self, method: str, raw_path: str, query: str, headers: list, body: bytes):
        """(status, headers, body) for one request."""
        from openapi_core.templating.paths.exceptions import OperationNotFound, PathError

        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        with self.lock:
            try:
                host, path, operation = self.find(method, raw_path)
            except PathError as e:
                code = "NO_METHOD_MATCHED_ERROR" if isinstance(e, OperationNotFound) else "NO_PATH_MATCHED_ERROR"
                v = [violation(["request"], code, f"no operation {method.upper()} {raw_path} in the description")]
                return 404, *problem(v)
            query_pairs = parse_qsl(query, keep_blank_values=True)
            req = Request(host, method, path, query_pairs, headers, body, content_type)
            found = list(self.requests.iter_errors(req))
            violations = request_violations(found)
            if violations:
                return 422, *problem(violations)
            op = operation.read_value()
            status, mime, media, response = pick_response(self.doc, op)
            rng = None
            if self.dynamic:
                key = f"{method.upper()} {path}"
                self.counts[key] += 1
                rng = random.Random(f"{self.seed}|{key}|{self.counts[key]}")
            status, ctype, data, extra = self.answer(status, mime, media, response, rng)
            resp = Response(status, ctype or "", data if mime else None, extra)
            out_violations = response_violations(self.responses.iter_errors(req, resp))
        out = list(extra)
        if ctype:
            out.append(("Content-Type", ctype))
        if out_violations:
            out.append(("sl-violations", header_json(out_violations)))
        return status, out, data


def header_json(violations: list) -> str:
    return json.dumps(violations[:100], ensure_ascii=True, separators=(",", ":"))


def problem(violations: list):
    body = json.dumps({"violations": violations}, ensure_ascii=False).encode("utf-8")
    return [("Content-Type", "application/json"), ("sl-violations", header_json(violations))], body


# --------------------------------------------------------------------------------------------------
# HTTP


def make_handler(mock: Mock, verbose: bool):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "connector-validator"

        def setup(self):
            super().setup()
            # Headers and body go out in separate writes; without this, Nagle's algorithm and the
            # client's delayed ACK cost about 40 ms per request.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, fmt, *args):
            if verbose:
                log(self.address_string(), fmt % args)

        def read_body(self) -> bytes:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n > 0 else b""

        def serve(self):
            started = time.monotonic()
            try:
                body = self.read_body()
            except Exception as e:
                self.send(400, [("Content-Type", "text/plain")], f"unreadable body: {e}".encode())
                self.close_connection = True
                return
            parts = urlsplit(self.path)
            try:
                status, headers, data = mock.handle(
                    self.command, parts.path or "/", parts.query, list(self.headers.items()), body
                )
            except Exception as e:  # never let one request take the server down
                log("internal error:", "".join(traceback.format_exception(e)).rstrip())
                message = f"mock internal error: {type(e).__name__}: {e}"
                status, headers, data = 500, [("Content-Type", "text/plain; charset=utf-8")], message.encode()
            self.send(status, headers, data)
            if verbose:
                log(f"{self.command} {self.path} -> {status} in {1000 * (time.monotonic() - started):.1f} ms")

        def send(self, status: int, headers: list, data: bytes):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD" and data:
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_TRACE = serve

    return Handler


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Validating mock server on openapi-core (a Prism stand-in).")
    p.add_argument("spec", help="OpenAPI description (JSON or YAML)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4010, help="0 picks a free port")
    p.add_argument("--dynamic", action="store_true", help="random schema-valid bodies, ignoring examples")
    p.add_argument("--seed", type=int, default=None, help="seed for --dynamic (default: random)")
    p.add_argument("--no-spec-check", action="store_true", help="skip openapi-spec-validator's check of the description")
    p.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = p.parse_args(argv)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))
    started = time.monotonic()
    try:
        mock = Mock(args.spec, args.dynamic, args.seed, check_spec=not args.no_spec_check)
    except ImportError as e:
        log(f"openapi-core is not installed in this Python ({sys.executable}): {e}; see requirements.txt")
        return 2
    except Exception as e:
        text = _text(e)
        # openapi-spec-validator's messages carry a dump of its meta-schema: keep the telling lines
        lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith((" ", "\t", "Failed validating"))]
        log(f"cannot load the description {args.spec}: {type(e).__name__}: {' '.join(lines)[:2000]}")
        return 2
    try:
        server = ThreadingHTTPServer((args.host, args.port), make_handler(mock, args.verbose))
    except OSError as e:
        log(f"cannot listen on {args.host}:{args.port}: {e}")
        return 2
    server.daemon_threads = True
    host, port = server.server_address[:2]
    log(f"loaded {args.spec} in {time.monotonic() - started:.1f} s; mode {'dynamic, seed ' + str(mock.seed) if args.dynamic else 'static'}")
    print(f"validator is listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
