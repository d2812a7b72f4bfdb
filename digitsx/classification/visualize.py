"""Worker: build a network from JSON on stdin and print its layers (custom code never runs in
the web process). ``python -m digitsx.classification.visualize < request.json``"""
from __future__ import annotations

import json
import sys


def main() -> int:
    req = json.loads(sys.stdin.read())
    try:
        from . import networks

        if req["method"] == "custom":
            model = networks.build_custom(req["source"], req["classes"], req["channels"], req["size"])
        else:
            model = networks.build(req["name"], req["classes"], req["channels"], req["size"])
        layers = networks.describe(model, req["channels"], req["size"])
        print(json.dumps({"layers": layers, "parameters": sum(p.numel() for p in model.parameters()),
                          "input": [req["channels"], req["size"], req["size"]]}))
    except Exception as err:  # the user's code: report, don't crash
        print(json.dumps({"error": f"{type(err).__name__}: {err}"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
