"""The warm workers' versioned request/answer messages and their serving loop."""
from __future__ import annotations

import io
import json

import pytest

from digitsx.jobs import protocol


def run(lines, load):
    out = io.StringIO()
    code = protocol.serve(load, io.StringIO("".join(lines)), out)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_ready_then_one_answer_per_request_with_its_id():
    def load():
        def answer(request):
            if request["x"] < 0:
                raise ValueError("x must not be negative")
            return {"double": 2 * request["x"]}
        return answer, {"epoch": 3}

    code, msgs = run([protocol.serve_message("request", id=1, x=2), "\n",
                      protocol.serve_message("request", id=2, x=-1),
                      '{"id": 3, "x": 1}\n'], load)  # an unversioned line is refused, not answered
    assert code == 0
    assert msgs[0] == {"v": 1, "msg": "ready", "ok": True, "epoch": 3}
    assert msgs[1] == {"v": 1, "msg": "answer", "id": 1, "double": 4}
    assert msgs[2] == {"v": 1, "msg": "answer", "id": 2, "error": "x must not be negative"}
    assert msgs[3]["id"] is None and "not a v1 request" in msgs[3]["error"]


def test_a_worker_that_cannot_load_says_why_and_exits():
    def load():
        raise FileNotFoundError("model m1 has no snapshot yet")

    code, msgs = run([], load)
    assert code == 2 and msgs == [{"v": 1, "msg": "ready", "ok": False,
                                   "error": "FileNotFoundError: model m1 has no snapshot yet"}]


def test_messages_are_checked_by_kind_and_version():
    line = protocol.serve_message("answer", id=1, ok=True)
    assert protocol.read_message(line, "answer")["id"] == 1
    with pytest.raises(protocol.ProtocolError):
        protocol.read_message(line, "ready")
    with pytest.raises(protocol.ProtocolError):
        protocol.read_message(line.replace('"v":1', '"v":2'), "answer")
    with pytest.raises(protocol.ProtocolError):
        protocol.serve_message("hello")
