"""Signs requests with botocore's Signature Version 4 signers, for runtime/tests/sigv4_botocore.rs.

Reads one JSON request per line on stdin and answers one JSON line per request on stdout, in order:
for header signing the headers the signer wrote, for presigning the URL it made. The time is frozen
at the request's `time` (Unix seconds) so the signatures are reproducible.
"""

import base64
import datetime
import json
import sys

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials


def sign(case):
    frozen = datetime.datetime.fromtimestamp(case["time"], datetime.timezone.utc).replace(
        tzinfo=None
    )
    botocore.auth.get_current_datetime = lambda: frozen
    creds = Credentials(case["access_key"], case["secret_key"], case.get("token"))
    body = base64.b64decode(case["body"])
    request = AWSRequest(method=case["method"], url=case["url"], data=body)
    for name, value in case["headers"]:
        # botocore's header map appends: a repeated name keeps every value, in order.
        request.headers[name] = value
    s3 = case["s3"]
    if case["presign"]:
        cls = botocore.auth.S3SigV4QueryAuth if s3 else botocore.auth.SigV4QueryAuth
        cls(creds, case["service"], case["region"], expires=case["expires"]).add_auth(request)
        return {"url": request.url}
    if s3:
        if case["unsigned"]:
            request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
        signer = botocore.auth.S3SigV4Auth(creds, case["service"], case["region"])
    else:
        signer = botocore.auth.SigV4Auth(creds, case["service"], case["region"])
        # Every request carries its payload hash; botocore computes it here, independently.
        request.headers["X-Amz-Content-SHA256"] = (
            botocore.auth.UNSIGNED_PAYLOAD if case["unsigned"] else signer.payload(request)
        )
    signer.add_auth(request)
    return {
        name: request.headers.get(name)
        for name in (
            "Authorization",
            "X-Amz-Date",
            "X-Amz-Content-SHA256",
            "X-Amz-Security-Token",
        )
    }


def main():
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(sign(json.loads(line))), flush=False)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
