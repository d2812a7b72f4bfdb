"""``digitsx dataset create``, ``digitsx train``, ``digitsx predict``: the forms' work from a
shell, against a running server over its REST API (the same fields as the forms, ``FIELD=VALUE``),
following each job with a progress bar and its live metrics. Torch-free and Flask-free: it is
only an HTTP client (``requests``).

The server: ``--server`` or ``DIGITSX_SERVER`` (default ``http://127.0.0.1:5000``). Who: in open
mode a user name (``--user``, ``DIGITSX_USER``, else this machine's user); with accounts on, an
API token (``--token`` or ``DIGITSX_TOKEN``, made on your account page).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable

DATASET_ROUTES = {"classification": "/datasets/images/classification.json",
                  "detection": "/datasets/generic/create/image-object-detection.json",
                  "segmentation": "/datasets/generic/create/image-segmentation.json"}
FINISHED = ("Done", "Error", "Aborted", "Pruned")
IMAGES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


class CliError(Exception):
    """A mistake or a refusal, said in one line (the command exits 1)."""


def add_parsers(sub) -> None:
    """The client commands, on ``digitsx``'s sub-parsers."""
    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--server", default=os.environ.get("DIGITSX_SERVER", "http://127.0.0.1:5000"),
                       help="the server's address (DIGITSX_SERVER; default http://127.0.0.1:5000)")
        p.add_argument("--user", default=os.environ.get("DIGITSX_USER"),
                       help="open mode: the user name to log in as (DIGITSX_USER; default this machine's user)")
        p.add_argument("--token", default=os.environ.get("DIGITSX_TOKEN"),
                       help="accounts on: an API token from your account page (DIGITSX_TOKEN)")

    dataset = sub.add_parser("dataset", help="datasets on a running server")
    dsub = dataset.add_subparsers(dest="dataset_command", required=True)
    create = dsub.add_parser("create", help="build a dataset, following it to the end",
                             description="FIELD=VALUE pairs are the dataset form's fields "
                                         "(resize_width=224, folder_pct_val=20, ...)")
    common(create)
    create.add_argument("folder", nargs="?", help="classification: the class-per-folder tree (folder_train)")
    create.add_argument("fields", nargs="*", metavar="FIELD=VALUE")
    create.add_argument("--task", choices=tuple(DATASET_ROUTES), default="classification")
    create.add_argument("--name", help="the dataset's name (default: the folder's)")
    create.add_argument("--no-follow", action="store_true", help="print the job and return at once")

    train = sub.add_parser("train", help="train a model, following it with a progress bar and its metrics",
                           description="FIELD=VALUE pairs are the model form's fields (learning_rate=0.01, "
                                       "batch_size=32, weights=DEFAULT, search_space=..., ...)")
    common(train)
    train.add_argument("fields", nargs="*", metavar="FIELD=VALUE")
    train.add_argument("--dataset", required=True, help="the dataset's job id")
    train.add_argument("--network", help="a standard network (lenet, resnet18, mobilenet_v3_small, ...)")
    train.add_argument("--epochs", type=int, help="training epochs")
    train.add_argument("--name", help="the model's name")
    train.add_argument("--no-follow", action="store_true", help="print the job and return at once")

    predict = sub.add_parser("predict", help="run a model on every image of a folder")
    common(predict)
    predict.add_argument("folder", help="a folder of images (read here and uploaded)")
    predict.add_argument("--model", help="the model's job id (default: the newest model that is Done)")
    predict.add_argument("--snapshot", default="best", help="best (default), last or an epoch")
    predict.add_argument("--limit", type=int, default=1000, help="at most this many images (1000)")


def run(args) -> int:
    """Run a client command; a CliError is one line on stderr and exit status 1."""
    try:
        client = Client(args.server, args.user, args.token)
        if args.command == "dataset":
            return create_dataset(client, args)
        if args.command == "train":
            return train(client, args)
        return predict(client, args)
    except CliError as err:
        print(f"digitsx: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ndigitsx: stopped following (the job goes on on the server)", file=sys.stderr)
        return 130


class Client:
    """A logged-in session with the server; each answer's JSON, or CliError with the reason."""

    def __init__(self, server: str, user: str | None, token: str | None) -> None:
        import requests

        self.server = server.rstrip("/")
        self.http = requests.Session()
        self.http.headers["Accept"] = "application/json"
        self.requests = requests
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"
            return
        name = user or _machine_user()
        answer = self._send("POST", "/login", data={"username": name})
        if answer.status_code == 400 and "password" in answer.text.lower():
            raise CliError(f"{self.server} has accounts on: give an API token (--token or DIGITSX_TOKEN), "
                           f"made on your account page")
        self._check(answer)

    def _send(self, method: str, path: str, **kwargs):
        try:
            return self.http.request(method, self.server + path, timeout=kwargs.pop("timeout", 120), **kwargs)
        except self.requests.ConnectionError:
            raise CliError(f"no server answers at {self.server} (start one with digitsx-devserver, or give "
                           f"--server)") from None
        except self.requests.Timeout:
            raise CliError(f"{self.server} did not answer {path} in time") from None

    def _check(self, answer) -> Any:
        try:
            data = answer.json()
        except ValueError:
            data = None
        if answer.ok:
            return data
        if isinstance(data, dict) and isinstance(data.get("errors"), dict):
            raise CliError("; ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}"
                                     for k, v in data["errors"].items()))
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            raise CliError(str(data["error"].get("message") or answer.reason))
        raise CliError(f"{answer.status_code} {answer.reason} for {answer.url}")

    def get(self, path: str, **params) -> Any:
        return self._check(self._send("GET", path, params=params or None))

    def post(self, path: str, data: dict | None = None, files: dict | None = None) -> Any:
        return self._check(self._send("POST", path, data=data, files=files))


def _machine_user() -> str:
    import getpass
    import re

    try:
        name = re.sub(r"[^a-z0-9._-]", "", getpass.getuser().lower())
    except Exception:  # noqa: BLE001
        name = ""
    return name if name[:1].isalpha() else "me"


def _fields(pairs: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CliError(f"{pair!r}: expected FIELD=VALUE (the form's field names, e.g. resize_width=224)")
        out[key.strip()] = value
    return out


def create_dataset(client: Client, args) -> int:
    fields = _fields(args.fields)
    if args.folder and "=" in args.folder:  # no folder given: the first pair landed there
        fields = {**_fields([args.folder]), **fields}
        args.folder = None
    if args.folder:
        folder = str(Path(args.folder).expanduser().resolve())
        fields.setdefault("folder_train" if args.task == "classification" else "train_image_folder", folder)
    name = args.name or fields.get("dataset_name") or (Path(args.folder).name if args.folder else "")
    if not name:
        raise CliError("give the dataset a name (--name) or a folder")
    fields["dataset_name"] = name
    job = client.post(DATASET_ROUTES[args.task], fields)
    print(f"dataset {job['name']} ({job['id']}): {client.server}/datasets/{job['id']}")
    if args.no_follow:
        return 0
    final = follow(client, job["id"], "/datasets")
    if final["status"] == "Done":
        info = client.get(f"/datasets/{job['id']}.json")
        splits = (info.get("dataset") or {}).get("splits") or {}
        print("built: " + ", ".join(f"{s} {v.get('entries', 0):,} images" for s, v in splits.items()))
        for warning in ((info.get("dataset") or {}).get("health") or {}).get("warnings", [])[:10]:
            print(f"  health: {warning}")
    return 0 if final["status"] == "Done" else 1


def train(client: Client, args) -> int:
    fields = _fields(args.fields)
    fields["dataset"] = args.dataset
    if args.network:
        fields.setdefault("standard_networks", args.network)
    if args.epochs:
        fields["train_epochs"] = str(args.epochs)
    dataset = client.get(f"/jobs/{args.dataset}.json")
    fields.setdefault("model_name", args.name or f"{fields.get('standard_networks', 'model')} on {dataset.get('name')}")
    route = "/models/images/classification.json" if "classification" in str(dataset.get("kind", "")) \
        else "/models/images/generic.json"
    answer = client.post(route, fields)
    jobs = answer.get("jobs") or [answer]
    for job in jobs:
        print(f"model {job['name']} ({job['id']}): {client.server}/models/{job['id']}")
    if answer.get("study_id"):
        print(f"a study of {fields.get('search_trials', '')} trials: {client.server}/jobs/{answer['study_id']}")
    if args.no_follow or len(jobs) > 1:
        return 0
    final = follow(client, jobs[0]["id"], "/models", metrics=True)
    if final["status"] == "Done":
        job = client.get(f"/jobs/{jobs[0]['id']}.json")
        best = (job.get("result") or {}).get("best") or {}
        if best:
            print(f"best: epoch {best.get('epoch')} ({best.get('metric')} {_num(best.get('value'))}); "
                  f"test it: digitsx predict FOLDER --model {jobs[0]['id']}")
    return 0 if final["status"] in ("Done",) else 1


def follow(client: Client, job_id: str, prefix: str, metrics: bool = False,
           out=None, interval: float = 1.0) -> dict:
    """Poll the job until it ends: a progress bar (redrawn in place on a terminal, a line per
    10 % otherwise) and, for a model, each validation's metrics as it comes."""
    out = out or sys.stdout
    tty = out.isatty()
    last_id, shown_pct, status = 0, -10, {}
    while True:
        status = client.get(f"{prefix}/{job_id}/status")
        if metrics:
            found = client.get(f"/models/{job_id}/metrics.json", after=last_id)
            last_id = found.get("last_id") or last_id
            for point in found.get("metrics", []):
                if point.get("phase") == "val":
                    _clear(out, tty)
                    values = "  ".join(f"{k} {_num(v)}" for k, v in (point.get("values") or {}).items())
                    print(f"epoch {_num(point.get('epoch'))}  val  {values}", file=out)
        pct = int(100 * float(status.get("progress") or 0))
        line = _bar(pct, status)
        if tty:
            out.write("\r" + line[:150].ljust(150))
            out.flush()
        elif pct >= shown_pct + 10 or status["status"] in FINISHED:
            print(line, file=out)
            shown_pct = pct
        if status["status"] in FINISHED:
            if tty:
                out.write("\n")
            if status.get("error"):
                print(f"error: {status['error']}", file=out)
            return status
        time.sleep(interval)


def _bar(pct: int, status: dict) -> str:
    filled = pct // 4
    eta = status.get("eta")
    waiting = status.get("waiting") or ""
    extra = f"  eta {int(eta)} s" if isinstance(eta, (int, float)) and status["status"] == "Running" else ""
    if status["status"] == "Waiting" and waiting:
        extra = f"  {waiting if isinstance(waiting, str) else ''}"
    return f"[{'#' * filled}{'.' * (25 - filled)}] {pct:3d}%  {status['status']}{extra}"


def _clear(out, tty: bool) -> None:
    if tty:
        out.write("\r" + " " * 150 + "\r")


def _num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def predict(client: Client, args) -> int:
    folder = Path(args.folder).expanduser()
    if not folder.is_dir():
        raise CliError(f"{folder}: not a folder")
    images = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGES and p.is_file())[:args.limit]
    if not images:
        raise CliError(f"{folder}: no images ({', '.join(IMAGES)})")
    if not args.model:
        newest = client.get("/index.json", per_page=1, category="model", status="Done", sort="created").get("jobs") or []
        if not newest:
            raise CliError("no finished model on the server yet: train one (digitsx train), or give --model")
        args.model = newest[0]["id"]
        print(f"with the newest finished model, {newest[0].get('name')} ({args.model})", file=sys.stderr)
    model = client.get(f"/jobs/{args.model}.json")
    classification = "classification" in str(model.get("kind", ""))
    route = "/models/images/classification/classify_one.json" if classification \
        else "/models/images/generic/infer_one.json"
    describe: Callable[[dict], str] = _classified if classification else _detected
    failed = 0
    for path in images:
        with open(path, "rb") as f:
            try:
                answer = client.post(route, {"job_id": args.model, "snapshot_epoch": args.snapshot},
                                     {"image_file": (path.name, f.read())})
            except CliError as err:
                failed += 1
                print(f"{path.relative_to(folder)}\terror: {err}")
                continue
        print(f"{path.relative_to(folder)}\t{describe(answer)}")
    print(f"{len(images) - failed} of {len(images)} images with {model.get('name')} ({args.model})", file=sys.stderr)
    return 0 if not failed else 1


def _classified(answer: dict) -> str:
    top = (answer.get("predictions") or [])[:3]
    return "\t".join(f"{label} {pct:.1f}%" for label, pct in top)


def _detected(answer: dict) -> str:
    if "detections" in answer:
        threshold = float(answer.get("threshold") or 0.5)
        kept = [d for d in answer["detections"] if d.get("confidence", 0) >= threshold]
        counts: dict[str, int] = {}
        for d in kept:
            counts[d.get("label", "?")] = counts.get(d.get("label", "?"), 0) + 1
        return f"{len(kept)} boxes at ≥ {threshold:.2f}" + (": " + ", ".join(f"{n} {k}" for k, n in counts.items())
                                                            if counts else "")
    labels = answer.get("labels") or []
    present = sorted({c for row in (answer.get("outputs") or {}).get("class_map") or [] for c in row} - {0, 255})
    return "classes present: " + (", ".join(str(labels[c]) if c < len(labels) else str(c) for c in present) or "none")
