#!/usr/bin/env python3
"""Self-test of mock.py against a description (written for Stripe's).

    ~/.cache/connector-validator/venv/bin/python selftest.py SPEC [--gets N] [--seeds 1,2,3]

Starts mock.py (with this same Python) on a free loopback port, drives it over HTTP, and also runs the
body builder directly over every operation's chosen response, validating each body with openapi-core.
Prints one line per check and closes with `N passed, M failed`; exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import random
import subprocess
import sys
import time
from urllib.parse import quote, urlencode

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # leave no __pycache__ in the repository
import mock  # noqa: E402

BEARER = {"Authorization": "Bearer sk_test_123"}
METHODS = ("get", "post", "put", "patch", "delete", "head", "options", "trace")
results: list[tuple[str, bool, str]] = []


def check(name: str, ok: bool, detail: str = "") -> bool:
    results.append((name, ok, detail))
    print(f"{'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ""), flush=True)
    return ok


class Server:
    """mock.py in a child process; `start` returns the seconds until its listening line."""

    def __init__(self, spec: str, *extra: str):
        self.args = [sys.executable, os.path.join(HERE, "mock.py"), spec, "--host", "127.0.0.1", "--port", "0", *extra]

    def start(self) -> float:
        began = time.monotonic()
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        elapsed = time.monotonic() - began
        if "validator is listening on http://" not in line:
            raise RuntimeError(f"no listening line; got {line!r}; stderr: {self.proc.stderr.read()[-2000:]}")
        self.port = int(line.rsplit(":", 1)[1])
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        return elapsed

    def request(self, method: str, path: str, body: str | bytes | None = None, headers: dict | None = None):
        """(status, headers dict with lower-case names, parsed JSON body or raw bytes)."""
        hdrs = dict(headers or {})
        if body is not None and "Content-Type" not in hdrs:
            hdrs["Content-Type"] = mock.FORM
        if isinstance(body, str):
            body = body.encode()
        self.conn.request(method, path, body=body, headers=hdrs)
        r = self.conn.getresponse()
        data = r.read()
        h = {k.lower(): v for k, v in r.getheaders()}
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data
        return r.status, h, parsed

    def stop(self) -> None:
        self.conn.close()
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


def violations(h: dict) -> list:
    return json.loads(h["sl-violations"]) if "sl-violations" in h else []


def at(vs: list, first: str) -> list:
    return [v for v in vs if v["location"][:1] == [first]]


# --------------------------------------------------------------------------------------------------


def protocol_checks(s: Server) -> None:
    st, h, b = s.request("GET", "/v1/customers?limit=3", headers=BEARER)
    check(
        "1 GET /v1/customers?limit=3 -> 200 list, no sl-violations",
        st == 200 and "sl-violations" not in h and isinstance(b, dict) and b.get("object") == "list"
        and isinstance(b.get("data"), list) and "has_more" in b and str(b.get("url", "")).startswith("/v1/customers"),
        f"{st} {h.get('sl-violations', '')} {json.dumps(b)[:120]}",
    )
    st, h, b = s.request("GET", "/v1/customers/cus_123", headers=BEARER)
    check(
        "2 GET /v1/customers/cus_123 -> 200 valid customer",
        st == 200 and "sl-violations" not in h and isinstance(b, dict) and b.get("object") == "customer",
        f"{st} {h.get('sl-violations', '')} keys={len(b) if isinstance(b, dict) else b}",
    )
    st, h, b = s.request("POST", "/v1/customers", "email=a@b.c&metadata[k]=v&expand[0]=default_source", BEARER)
    check("3 POST /v1/customers email, metadata[k], expand[0] -> 200", st == 200 and not violations(h), f"{st} {h.get('sl-violations', '')}")
    body = "invoice_settings[custom_fields][0][name]=n&invoice_settings[custom_fields][0][value]=v"
    st, h, b = s.request("POST", "/v1/customers", body, BEARER)
    check("4 POST /v1/customers invoice_settings[custom_fields][0][...] -> 200", st == 200 and not violations(h), f"{st} {h.get('sl-violations', '')}")
    st, h, b = s.request("POST", "/v1/customers", "balance=notanumber", BEARER)
    vs = violations(h)
    check(
        "5 POST /v1/customers balance=notanumber -> 422 at request/body/balance",
        st == 422 and any(v["location"] == ["request", "body", "balance"] for v in vs)
        and isinstance(b, dict) and b.get("violations") == vs,
        f"{st} {vs}",
    )
    st, h, b = s.request("GET", "/v1/customers")
    vs = violations(h)
    check("6 GET /v1/customers without auth -> security violation", st == 422 and any(v["code"] == "security" for v in at(vs, "request")), f"{st} {vs}")
    basic = {"Authorization": "Basic " + base64.b64encode(b"sk_test_123:").decode()}
    st, h, b = s.request("GET", "/v1/customers", headers=basic)
    check("6b GET /v1/customers with Basic auth -> 200", st == 200 and not violations(h), f"{st} {h.get('sl-violations', '')}")

    # deepObject query parameters (Stripe: `created` anyOf object|integer, `expand` array)
    for q, want in [
        ("created[gt]=1600000000", 200),
        ("created[gt]=1600000000&created[lte]=1700000000&limit=2", 200),
        ("created=1600000000", 200),
        ("expand[0]=data.customer&expand[1]=data.invoice", 200),
        ("expand[]=data.customer", 200),
        ("created[gt]=soon", 422),
        ("limit=many", 422),
    ]:
        st, h, b = s.request("GET", "/v1/charges?" + q, headers=BEARER)
        req_v = at(violations(h), "request")
        ok = st == want and (bool(req_v) == (want == 422)) and not at(violations(h), "response")
        check(f"7 GET /v1/charges?{q} -> {want}", ok, f"{st} {h.get('sl-violations', '')}")

    # more form shapes the Rust client sends
    forms = [
        ("preferred_locales=en&preferred_locales=fr", 200, "top-level array as repeated keys"),
        ("preferred_locales=en", 200, "top-level array, one repeated key"),
        ("preferred_locales[0]=en&preferred_locales[1]=fr", 200, "top-level array with indices"),
        ("address[line1]=1 Main St&address[city]=Paris&shipping[name]=N&shipping[address][line1]=L", 200, "nested objects"),
        ("metadata=", 200, "empty string to unset (anyOf enum [''])"),
        ("tax_exempt=reverse&balance=-5&coupon=c", 200, "scalars incl. negative integer"),
        ("tax_exempt=sideways", 422, "enum violation"),
        ("no_such_field=1", 422, "additionalProperties: false"),
        ("invoice_settings[custom_fields][0][name]=n", 422, "missing required nested property"),
    ]
    for body, want, what in forms:
        st, h, b = s.request("POST", "/v1/customers", body, BEARER)
        req_v = at(violations(h), "request")
        check(f"8 POST /v1/customers {what} -> {want}", st == want and bool(req_v) == (want == 422), f"{st} {h.get('sl-violations', '')[:300]}")
    items = "items[0][price]=price_1&items[0][quantity]=2&items[1][price]=price_2&customer=cus_1&expand[0]=latest_invoice"
    st, h, b = s.request("POST", "/v1/subscriptions", items, BEARER)
    check("8 POST /v1/subscriptions items[0][price] (array of objects) -> 200", st == 200 and not violations(h), f"{st} {h.get('sl-violations', '')[:300]}")
    st, h, b = s.request("POST", "/v1/customers", "email=a@b.c", {**BEARER, "Content-Type": "application/json"})
    check("8 POST /v1/customers with a JSON content type -> 422 content-type", st == 422 and bool(at(violations(h), "request")), f"{st} {h.get('sl-violations', '')[:200]}")

    # multipart upload on Stripe's per-operation server (files.stripe.com)
    boundary = "xyzBOUNDARYxyz"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\ndispute_evidence\r\n',
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n',
        f"--{boundary}--\r\n",
    ]
    st, h, b = s.request("POST", "/v1/files", "".join(parts), {**BEARER, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    check("8 POST /v1/files multipart (operation-level server) -> 200", st == 200 and not violations(h), f"{st} {h.get('sl-violations', '')[:300]}")
    deep = parts[:2] + [
        f'--{boundary}\r\nContent-Disposition: form-data; name="file_link_data[create]"\r\n\r\ntrue\r\n',
        f'--{boundary}\r\nContent-Disposition: form-data; name="file_link_data[expires_at]"\r\n\r\n1700000000\r\n',
        f'--{boundary}\r\nContent-Disposition: form-data; name="expand[]"\r\n\r\nlinks\r\n',
        f'--{boundary}\r\nContent-Disposition: form-data; name="expand[]"\r\n\r\nlinks.data\r\n',
        f"--{boundary}--\r\n",
    ]
    st, h, b = s.request("POST", "/v1/files", "".join(deep), {**BEARER, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    check("8 POST /v1/files multipart with bracket-named and repeated parts -> 200", st == 200 and not violations(h), f"{st} {h.get('sl-violations', '')[:300]}")
    bad = parts[:2] + [f'--{boundary}\r\nContent-Disposition: form-data; name="file_link_data[create]"\r\n\r\nmaybe\r\n', f"--{boundary}--\r\n"]
    st, h, b = s.request("POST", "/v1/files", "".join(bad), {**BEARER, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    check("8 POST /v1/files multipart with a non-boolean file_link_data[create] -> 422", st == 422 and bool(violations(h)), f"{st} {h.get('sl-violations', '')[:300]}")
    st, h, b = s.request("GET", "/v1/quotes/qt_1/pdf", headers=BEARER)
    check("8 GET /v1/quotes/qt_1/pdf -> 200 application/pdf", st == 200 and h.get("content-type") == "application/pdf" and not violations(h), f"{st} {h.get('content-type')}")

    # unknown path / method, HEAD, and a garbage request that must not kill the server
    st, h, b = s.request("GET", "/v1/nowhere", headers=BEARER)
    check("9 GET /v1/nowhere -> 404 at [request]", st == 404 and any(v["location"] == ["request"] for v in violations(h)), f"{st}")
    st, h, b = s.request("PUT", "/v1/customers", "a=b", BEARER)
    check("9 PUT /v1/customers (no such method) -> 404 at [request]", st == 404 and any(v["location"] == ["request"] for v in violations(h)), f"{st}")
    st, h, b = s.request("HEAD", "/v1/customers/cus_1", headers=BEARER)
    check("9 HEAD /v1/customers/cus_1 -> 404 (not declared)", st == 404, f"{st}")
    st, h, b = s.request("POST", "/v1/customers", b"\xff\xfe%%%[[[", BEARER)
    check("9 undecodable form body -> 422, server alive", st == 422, f"{st} {h.get('sl-violations', '')[:200]}")
    st, h, b = s.request("GET", "/v1/customers/cus_123", headers=BEARER)
    check("9 server still serving after bad input", st == 200, f"{st}")


def throughput(s: Server) -> None:
    for label, method, path, body in [
        ("GET /v1/customers/cus_123", "GET", "/v1/customers/cus_123", None),
        ("GET /v1/customers?limit=3", "GET", "/v1/customers?limit=3", None),
        ("POST /v1/customers (form)", "POST", "/v1/customers", "email=a@b.c&metadata[k]=v&expand[0]=default_source"),
    ]:
        n = 100
        began = time.monotonic()
        for _ in range(n):
            st, h, b = s.request(method, path, body, BEARER)
        elapsed = time.monotonic() - began
        print(f"INFO throughput {label}: {n} sequential requests in {elapsed:.2f} s = {n / elapsed:.0f} req/s", flush=True)


# --------------------------------------------------------------------------------------------------


def sample_gets(doc: mock.Document, count: int) -> list[tuple[str, dict]]:
    gets = sorted((p, item["get"]) for p, item in doc.raw["paths"].items() if isinstance(item, dict) and "get" in item)
    if len(gets) <= count:
        return gets
    step = len(gets) / count
    return [gets[int(i * step)] for i in range(count)]


def concrete_url(m: mock.Mock, template: str, op: dict) -> str:
    """The template with path parameters filled, plus its required query parameters."""
    path = template
    query: list[tuple[str, str]] = []
    b = mock.Builder(m.doc, m.costs, None)
    for p in op.get("parameters") or []:
        p = m.doc.deref(p)
        if p.get("in") == "path":
            path = path.replace("{" + p["name"] + "}", "x_1")
        elif p.get("in") == "query" and p.get("required"):
            v = b.build(p.get("schema") or {})
            if isinstance(v, dict):
                query += [(f"{p['name']}[{k}]", str(x)) for k, x in v.items()]
            elif isinstance(v, list):
                query += [(f"{p['name']}[{i}]", str(x)) for i, x in enumerate(v)]
            else:
                query.append((p["name"], str(v).lower() if isinstance(v, bool) else str(v)))
    return quote(path) + ("?" + urlencode(query) if query else "")


def dynamic_http(spec: str, m: mock.Mock, seeds: list[int], count: int) -> None:
    gets = sample_gets(m.doc, count)
    for seed in seeds:
        srv = Server(spec, "--dynamic", "--seed", str(seed), "--no-spec-check")
        srv.start()
        bad, size = [], 0
        try:
            for template, op in gets:
                url = concrete_url(m, template, op)
                st, h, b = srv.request("GET", url, headers=BEARER)
                size += len(json.dumps(b)) if b is not None else 0
                if st != 200 or violations(h):
                    bad.append(f"{url} -> {st} {h.get('sl-violations', '')[:300]}")
        finally:
            srv.stop()
        check(f"10 --dynamic --seed {seed}: {len(gets)} GET operations without violations", not bad, f"{len(gets) - len(bad)}/{len(gets)} clean, {size} bytes of bodies" + ("; " + " | ".join(bad[:5]) if bad else ""))


def builder_coverage(m: mock.Mock, seeds: list[int | None]) -> None:
    """Build every operation's chosen response directly and validate it with openapi-core."""
    for seed in seeds:
        total, bad = 0, []
        began = time.monotonic()
        for template, item in m.doc.raw["paths"].items():
            for method, op in item.items():
                if method not in METHODS or not isinstance(op, dict):
                    continue
                total += 1
                host, full, _ = m.find(method, template)
                status, mime, media, response = mock.pick_response(m.doc, op)
                rng = None if seed is None else random.Random(f"{seed}|{method}|{template}")
                try:
                    st, ctype, data, extra = m.answer(status, mime, media, response, rng)
                    req = mock.Request(host, method, full, [], [], b"", "")
                    resp = mock.Response(st, ctype or "", data if mime else None, extra)
                    vs = mock.response_violations(m.responses.iter_errors(req, resp))
                except Exception as e:  # a builder crash counts as a failure
                    vs = [{"location": ["response"], "message": f"{type(e).__name__}: {e}"}]
                if vs:
                    bad.append(f"{method.upper()} {template}: {json.dumps(vs[:2])[:400]}")
        label = "static" if seed is None else f"dynamic seed {seed}"
        check(
            f"11 {label} builder over every operation: {total - len(bad)}/{total} responses validate",
            not bad,
            f"{time.monotonic() - began:.1f} s" + ("; " + " | ".join(bad[:10]) if bad else ""),
        )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("spec")
    ap.add_argument("--gets", type=int, default=30, help="GET operations per dynamic seed")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--no-throughput", action="store_true")
    args = ap.parse_args()
    seeds = [int(x) for x in args.seeds.split(",") if x]

    srv = Server(args.spec)
    try:
        elapsed = srv.start()
    except Exception as e:
        check("0 mock.py starts", False, str(e))
        return 1
    print(f"INFO time to listening line (spec check on): {elapsed:.1f} s", flush=True)
    try:
        protocol_checks(srv)
        if not args.no_throughput:
            throughput(srv)
    finally:
        srv.stop()

    m = mock.Mock(args.spec, False, None, check_spec=False)
    builder_coverage(m, [None] + seeds)
    dynamic_http(args.spec, m, seeds, args.gets)

    passed = sum(1 for _, ok, _ in results if ok)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
