"""A stand-in for the Hugging Face Hub on 127.0.0.1, answering the requests huggingface_hub sends.

Downloads: GET /api/models/ORG/NAME[/revision/REV] (files with sizes and digests), HEAD and GET of
/ORG/NAME/resolve/REV/FILE. Small files carry their git blob id as ETag; *.safetensors are LFS files:
the resolve answers 302 to a second "CDN" server (another origin, as on the real Hub, so huggingface_hub
reads X-Linked-Etag / X-Linked-Size from the redirect itself) which serves the bytes.
Uploads: POST /api/repos/create, /api/validate-yaml, /api/models/ORG/NAME/preupload/REV (every file
"regular", i.e. inline in the commit: the LFS/Xet upload protocol is not simulated) and .../commit/REV.
`tamper` makes the served bytes differ from what the metadata reports; `requests` logs every request.
"""
from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def is_lfs(name: str) -> bool:
    return name.endswith(".safetensors")


class FakeHub:
    def __init__(self):
        self.repos: dict[str, dict] = {}   # repo id -> {"refs": {branch: sha}, "commits": {sha: {file: bytes}}}
        self.requests: list[tuple[str, str]] = []
        self.tamper: dict[str, str] = {}    # file name -> "flip" (same size, other bytes) or "truncate"
        self._servers = [ThreadingHTTPServer(("127.0.0.1", 0), _handler(self)) for _ in range(2)]
        self.url, self.cdn_url = (f"http://127.0.0.1:{s.server_address[1]}" for s in self._servers)
        for s in self._servers:
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        for s in self._servers:
            s.shutdown()
            s.server_close()

    def commit(self, repo_id: str, files: dict[str, bytes], branch: str = "main") -> str:
        """Add a commit holding files (on top of the branch's current files); returns its sha."""
        repo = self.repos.setdefault(repo_id, {"refs": {}, "commits": {}})
        parent = repo["refs"].get(branch)
        tree = {**(repo["commits"][parent] if parent else {}), **files}
        sha = hashlib.sha1(json.dumps([parent, sorted((k, git_blob_id(v)) for k, v in tree.items())]).encode()).hexdigest()
        repo["commits"][sha], repo["refs"][branch] = tree, sha
        return sha

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        repo = self.repos[repo_id]
        return repo["commits"][repo["refs"].get(revision, revision)]

    def served(self, name: str, data: bytes) -> bytes:
        mode = self.tamper.get(name)
        if mode == "flip":
            return data[:-1] + bytes([data[-1] ^ 0xFF])
        if mode == "truncate":
            return data[: len(data) // 2]
        return data


def _handler(hub: FakeHub):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def _send(self, status: int, headers: dict | None = None, body: bytes = b"", content_length=None):
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, str(v))
            self.send_header("Content-Length", str(len(body) if content_length is None else content_length))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, obj, status=200, headers=None):
            self._send(status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(obj).encode())

        def _error(self, status: int, code: str, headers=None):
            self._json({"error": code}, status, {"X-Error-Code": code, **(headers or {})})

        def _commit_of(self, repo_id: str, revision: str):
            repo = hub.repos.get(repo_id)
            if repo is None:
                return self._error(404, "RepoNotFound")
            sha = repo["refs"].get(revision, revision if revision in repo["commits"] else None)
            if sha is None:
                return self._error(404, "RevisionNotFound")
            return sha

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            hub.requests.append((self.command, self.path))
            parts = [unquote(p) for p in urlsplit(self.path).path.strip("/").split("/")]
            if parts[0] == "cdn":  # the LFS "CDN": bytes by sha256
                for repo in hub.repos.values():
                    for tree in repo["commits"].values():
                        for name, data in tree.items():
                            if hashlib.sha256(data).hexdigest() == parts[1]:
                                return self._send(200, {"Content-Type": "application/octet-stream"}, hub.served(name, data))
                return self._send(404)
            if parts[:2] == ["api", "models"] and len(parts) in (4, 6):
                repo_id = "/".join(parts[2:4])
                sha = self._commit_of(repo_id, parts[5] if len(parts) == 6 else "main")
                if sha is None:
                    return
                siblings = []
                for name, data in sorted(hub.repos[repo_id]["commits"][sha].items()):
                    s = {"rfilename": name, "size": len(data), "blobId": git_blob_id(data)}
                    if is_lfs(name):
                        s["lfs"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "pointerSize": 134}
                    siblings.append(s)
                return self._json({"id": repo_id, "modelId": repo_id, "sha": sha, "siblings": siblings})
            if len(parts) >= 5 and parts[2] == "resolve":
                repo_id, revision, name = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
                sha = self._commit_of(repo_id, revision)
                if sha is None:
                    return
                data = hub.repos[repo_id]["commits"][sha].get(name)
                if data is None:
                    return self._error(404, "EntryNotFound", {"X-Repo-Commit": sha})
                if is_lfs(name):
                    digest = hashlib.sha256(data).hexdigest()
                    return self._send(302, {"Location": f"{hub.cdn_url}/cdn/{digest}", "X-Repo-Commit": sha,
                                            "ETag": f'"{git_blob_id(data)}"', "X-Linked-Etag": f'"{digest}"',
                                            "X-Linked-Size": len(data)})
                body = data if self.command == "HEAD" else hub.served(name, data)  # metadata tells the truth
                return self._send(200, {"X-Repo-Commit": sha, "ETag": f'"{git_blob_id(data)}"',
                                        "Content-Type": "application/octet-stream"}, body)
            self._send(404)

        def do_POST(self):
            hub.requests.append((self.command, self.path))
            parts = [unquote(p) for p in urlsplit(self.path).path.strip("/").split("/")]
            body = self._body()
            if parts == ["api", "repos", "create"]:
                req = json.loads(body)
                repo_id = f"{req['organization']}/{req['name']}"
                if repo_id in hub.repos:  # the Hub's 409 names the existing repo, which create_repo(exist_ok) reads
                    return self._json({"error": "You already created this model repo", "url": f"{hub.url}/{repo_id}"}, 409)
                hub.repos[repo_id] = {"refs": {}, "commits": {}}
                return self._json({"url": f"{hub.url}/{repo_id}", "name": repo_id})
            if parts == ["api", "validate-yaml"]:
                return self._json({"errors": [], "warnings": []})
            if parts[:2] == ["api", "models"] and len(parts) == 6 and parts[4] in ("preupload", "commit"):
                repo_id = "/".join(parts[2:4])
                if repo_id not in hub.repos:
                    return self._error(404, "RepoNotFound")
                if parts[4] == "preupload":
                    files = json.loads(body)["files"]
                    return self._json({"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                                 for f in files]})
                lines = [json.loads(line) for line in body.splitlines() if line.strip()]
                added = {item["value"]["path"]: base64.b64decode(item["value"]["content"])
                         for item in lines if item["key"] == "file"}
                sha = hub.commit(repo_id, added, branch=parts[5])
                return self._json({"commitUrl": f"{hub.url}/{repo_id}/commit/{sha}", "commitOid": sha})
            self._send(404)

    return Handler
