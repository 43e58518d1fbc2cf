"""Upload and download throughput of a provider's own Python SDK against a local emulator.

Runs in the virtual environment with xtask/blob/requirements.txt (~/.cache/connector-blob/venv):

    python sdk_throughput.py --provider s3 --endpoint http://127.0.0.1:PORT --bucket b \
        --size-mib 64 --access-key-id K --secret-access-key S [--region us-east-1]
    python sdk_throughput.py --provider azure --endpoint http://127.0.0.1:PORT/devstoreaccount1 \
        --bucket c --size-mib 64 --account devstoreaccount1 --key KEY
    python sdk_throughput.py --provider gcs --endpoint http://127.0.0.1:PORT --bucket b \
        --size-mib 64

Creates the bucket (container) when missing, writes a file of pseudo-random bytes (not timed),
times the SDK's usual high-level upload of that file and download into another file, checks that
the downloaded bytes' SHA-256 equals the uploaded one's, deletes the object, and prints one JSON
line with the timings, the rates and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import sys
import tempfile
import time
import uuid

MIB = 1024 * 1024


def write_random(path: str, size_mib: int, seed: int) -> str:
    """Writes size_mib MiB of pseudo-random bytes to path; their SHA-256 in hex."""
    rng = random.Random(seed)
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(size_mib):
            chunk = rng.randbytes(MIB)
            digest.update(chunk)
            f.write(chunk)
    return digest.hexdigest()


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


def peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Kibibytes on Linux, bytes on macOS.
    return peak / MIB if sys.platform == "darwin" else peak / 1024


class S3:
    def __init__(self, args: argparse.Namespace) -> None:
        import boto3
        from botocore.config import Config

        if not (args.access_key_id and args.secret_access_key):
            sys.exit("--provider s3 needs --access-key-id and --secret-access-key")
        self.sdk = f"boto3 {boto3.__version__}"
        self.bucket = args.bucket
        self.client = boto3.client(
            "s3",
            endpoint_url=args.endpoint,
            region_name=args.region,
            aws_access_key_id=args.access_key_id,
            aws_secret_access_key=args.secret_access_key,
            config=Config(s3={"addressing_style": "path"}),
        )

    def ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                raise
            self.client.create_bucket(Bucket=self.bucket)

    def upload(self, path: str, name: str) -> None:
        self.client.upload_file(path, self.bucket, name)

    def download(self, name: str, path: str) -> None:
        self.client.download_file(self.bucket, name, path)

    def delete(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=name)


class Azure:
    def __init__(self, args: argparse.Namespace) -> None:
        import azure.storage.blob as blob

        if not (args.account and args.key):
            sys.exit("--provider azure needs --account and --key")
        self.sdk = f"azure-storage-blob {blob.__version__}"
        service = blob.BlobServiceClient(
            account_url=args.endpoint,
            credential={"account_name": args.account, "account_key": args.key},
        )
        self.container = service.get_container_client(args.bucket)

    def ensure_bucket(self) -> None:
        if not self.container.exists():
            self.container.create_container()

    def upload(self, path: str, name: str) -> None:
        with open(path, "rb") as f:
            self.container.upload_blob(name, f, overwrite=True, max_concurrency=4)

    def download(self, name: str, path: str) -> None:
        with open(path, "wb") as f:
            self.container.download_blob(name, max_concurrency=4).readinto(f)

    def delete(self, name: str) -> None:
        self.container.delete_blob(name)


class Gcs:
    def __init__(self, args: argparse.Namespace) -> None:
        # The client reads the emulator's address from the environment as well as the options.
        os.environ["STORAGE_EMULATOR_HOST"] = args.endpoint
        from google.auth.credentials import AnonymousCredentials
        import google.cloud.storage as storage

        self.sdk = f"google-cloud-storage {storage.__version__}"
        self.client = storage.Client(
            project=args.project,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": args.endpoint},
        )
        self.name = args.bucket
        self.bucket = self.client.bucket(args.bucket)

    def ensure_bucket(self) -> None:
        if self.client.lookup_bucket(self.name) is None:
            self.bucket = self.client.create_bucket(self.name)

    def upload(self, path: str, name: str) -> None:
        self.bucket.blob(name).upload_from_filename(path)

    def download(self, name: str, path: str) -> None:
        self.bucket.blob(name).download_to_filename(path)

    def delete(self, name: str) -> None:
        self.bucket.blob(name).delete()


PROVIDERS = {"s3": S3, "azure": Azure, "gcs": Gcs}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--provider", required=True, choices=sorted(PROVIDERS))
    p.add_argument("--endpoint", required=True)
    p.add_argument("--bucket", required=True)
    p.add_argument("--size-mib", type=int, required=True)
    p.add_argument("--access-key-id")
    p.add_argument("--secret-access-key")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--account")
    p.add_argument("--key")
    p.add_argument("--project", default="connector-blob", help="GCS project (emulator: any)")
    p.add_argument("--seed", type=int, default=1, help="seed of the pseudo-random bytes")
    args = p.parse_args()
    if args.size_mib <= 0:
        sys.exit("--size-mib must be positive")

    store = PROVIDERS[args.provider](args)
    store.ensure_bucket()
    name = f"sdk-throughput-{uuid.uuid4().hex}"
    with tempfile.TemporaryDirectory(prefix="sdk-throughput-") as tmp:
        source = os.path.join(tmp, "upload.bin")
        target = os.path.join(tmp, "download.bin")
        expected = write_random(source, args.size_mib, args.seed)

        started = time.perf_counter()
        store.upload(source, name)
        upload_s = time.perf_counter() - started

        started = time.perf_counter()
        store.download(name, target)
        download_s = time.perf_counter() - started

        got = sha256_of(target)
        store.delete(name)
    if got != expected:
        sys.exit(f"{args.provider}: downloaded sha256 {got}, uploaded {expected}")

    print(
        json.dumps(
            {
                "provider": args.provider,
                "sdk": store.sdk,
                "size_mib": args.size_mib,
                "upload_s": round(upload_s, 3),
                "download_s": round(download_s, 3),
                "upload_mib_s": round(args.size_mib / upload_s, 1),
                "download_mib_s": round(args.size_mib / download_s, 1),
                "peak_rss_mib": round(peak_rss_mib(), 1),
                "sha256": expected,
            },
            separators=(",", ":"),
        )
    )


if __name__ == "__main__":
    main()
