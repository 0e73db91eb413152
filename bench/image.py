#!/usr/bin/env python3
"""Image promotion: retag by digest against pull-and-push, with a 100 MB layer.

Starts a docker-registry (Debian package) on a loopback port with storage in a temporary
directory, uploads an image whose single layer is LAYER_MB of random bytes, then times
  - `release image promote 1.0.0 --tag production` (manifest GET + PUT, no layer moves), and
  - a pull-and-push of the same image to another repository (every blob downloaded and
    uploaded again, then the manifest),
and prints both times, their ratio, and the bytes each moved (counted from the registry's
access log: promotion must upload no blob).

Environment: RELEASE_BIN (default target/release/release), DOCKER_REGISTRY (default
docker-registry on PATH).
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE_BIN = os.environ.get("RELEASE_BIN") or os.path.join(ROOT, "target", "release", "release")
REGISTRY_BIN = os.environ.get("DOCKER_REGISTRY") or "docker-registry"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req) as r:
        return r.status, dict(r.headers), r.read()


def put_blob(base, name, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    _, headers, _ = request("POST", f"{base}/v2/{name}/blobs/uploads/")
    location = headers["Location"]
    if not location.startswith("http"):
        location = base + location
    sep = "&" if "?" in location else "?"
    request("PUT", f"{location}{sep}digest={digest}", data,
            {"Content-Type": "application/octet-stream"})
    return digest


def pull_and_push(base, source, target, tag):
    _, headers, body = request("GET", f"{base}/v2/{source}/manifests/{tag}", headers={"Accept": MANIFEST})
    manifest = json.loads(body)
    moved = 0
    for blob in [manifest["config"]] + manifest["layers"]:
        _, _, data = request("GET", f"{base}/v2/{source}/blobs/{blob['digest']}")
        put_blob(base, target, data)
        moved += len(data)
    request("PUT", f"{base}/v2/{target}/manifests/{tag}", body,
            {"Content-Type": headers.get("Content-Type", MANIFEST).split(";")[0]})
    return moved


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--layer-mb", type=int, default=100, help="size of the layer in MB (default 100)")
    args = p.parse_args()
    if not os.path.exists(RELEASE_BIN):
        sys.exit(f"{RELEASE_BIN} missing: run `cargo build --release` (make bench does)")
    if not shutil.which(REGISTRY_BIN) and not os.path.exists(REGISTRY_BIN):
        sys.exit(f"{REGISTRY_BIN} missing: apt-get install docker-registry (.ci/run does)")
    tmp = tempfile.mkdtemp(prefix="bench-image-")
    port = free_port()
    config = os.path.join(tmp, "config.yml")
    with open(config, "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {tmp}/storage\n"
                f"http:\n  addr: 127.0.0.1:{port}\n")
    log_path = os.path.join(tmp, "registry.log")
    log = open(log_path, "w")
    server = subprocess.Popen([REGISTRY_BIN, "serve", config], stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                request("GET", f"{base}/v2/")
                break
            except OSError:
                time.sleep(0.05)
        layer = os.urandom(args.layer_mb * 1024 * 1024)
        cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": put_blob(base, "bench/app", cfg), "size": len(cfg)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": put_blob(base, "bench/app", layer), "size": len(layer)}],
        }).encode()
        request("PUT", f"{base}/v2/bench/app/manifests/1.0.0", manifest, {"Content-Type": MANIFEST})

        repo = os.path.join(tmp, "repo")
        os.makedirs(repo)
        subprocess.run(["git", "init", "-q", repo], check=True)
        with open(os.path.join(repo, "release.toml"), "w") as f:
            f.write(f'[image]\nrepository = "127.0.0.1:{port}/bench/app"\n')

        def uploads():
            with open(log_path) as f:
                return len(re.findall(r"POST /v2/[^ ]*/blobs/uploads/", f.read()))

        before = uploads()
        t0 = time.perf_counter()
        subprocess.run([RELEASE_BIN, "-C", repo, "image", "promote", "1.0.0", "--tag", "production"],
                       check=True, stdout=subprocess.DEVNULL)
        retag = time.perf_counter() - t0
        retag_uploads = uploads() - before

        t0 = time.perf_counter()
        moved = pull_and_push(base, "bench/app", "bench/copy", "1.0.0")
        copy = time.perf_counter() - t0

        print(f"layer: {args.layer_mb} MB")
        print(f"promote by retag: {retag:.3f}s, {retag_uploads} blob upload(s)")
        print(f"pull and push:    {copy:.3f}s, {moved / 1e6:.1f} MB downloaded and uploaded")
        print(f"ratio: pull-and-push takes {copy / retag:.1f}x as long as retag")
        if retag_uploads:
            sys.exit("promotion uploaded a blob")
    finally:
        server.kill()
        server.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
