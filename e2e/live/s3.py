"""The live tier's S3 API: moto's server (e2e/live/s3.lock), holding the tiny model and its adapter,
with real SigV4 authentication. Run in the venv of `build.py s3-venv`:

    python e2e/live/s3.py --host ADDR --port PORT --out FILE --object s3://B/P=DIR [--object ...]

It starts the server, creates an IAM user allowed s3:* and its access key, each bucket, uploads
every file of each DIR below its s3://B/P/, then turns authentication on (moto's reset-auth: from
then on every request must be signed with a key moto issued) and writes FILE (mode 0600, JSON:
endpoint, uris, region, access_key_id, secret_access_key). It serves until SIGTERM or SIGINT.

ADDR must be one the pods reach: the node's loopback is not theirs (the CNI bridge's gateway
address or the host's is). moto keeps everything in memory: a restart seeds again, with a new key.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import urllib.request
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


def seed(endpoint: str, objects: dict[str, Path]) -> dict:
    """The IAM user, its key, the buckets and the objects (each s3://bucket/prefix holds its directory's
    files); returns the key pair."""
    # Before reset-auth moto takes any key: these seed the one it will take afterwards.
    bootstrap = {"aws_access_key_id": "bootstrap", "aws_secret_access_key": "bootstrap", "region_name": REGION}
    iam = boto3.client("iam", endpoint_url=endpoint, **bootstrap)
    iam.create_user(UserName="vllm-models-live")
    iam.put_user_policy(UserName="vllm-models-live", PolicyName="s3", PolicyDocument=json.dumps(POLICY))
    key = iam.create_access_key(UserName="vllm-models-live")["AccessKey"]
    creds = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"],
             "region_name": REGION}
    s3 = boto3.client("s3", endpoint_url=endpoint, **creds)
    for uri, directory in objects.items():
        bucket, prefix = uri.removeprefix("s3://").split("/", 1)
        if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
            s3.create_bucket(Bucket=bucket)
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            s3.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(directory).as_posix()}")
    # A body that is not a form: moto reads the raw count from it.
    request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST",
                                     headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
    return creds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--object", action="append", required=True, metavar="s3://BUCKET/PREFIX=DIR",
                        help="upload every file of DIR below s3://BUCKET/PREFIX/ (repeatable)")
    args = parser.parse_args()
    objects = {}
    for item in args.object:
        uri, _, directory = item.partition("=")
        if not uri.startswith("s3://") or "/" not in uri.removeprefix("s3://") or not Path(directory).is_dir():
            parser.error(f"--object {item}: expected s3://BUCKET/PREFIX=DIR with DIR a directory")
        objects[uri.rstrip("/")] = Path(directory)
    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    endpoint = f"http://{args.host}:{args.port}"
    creds = seed(endpoint, objects)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"endpoint": endpoint, "uris": sorted(objects), "region": REGION,
                   "access_key_id": creds["aws_access_key_id"],
                   "secret_access_key": creds["aws_secret_access_key"]}, out, indent=2)
    print(f"s3: serving {', '.join(sorted(objects))} at {endpoint}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
