"""One full ``check_claims()`` run per test session, shared by every xdist worker.

The first worker to ask runs the whole catalogue (two worker processes, as ``ppverify prove``
does) under an exclusive file lock and stores the verdict records as JSON in the session's
temporary root; the others wait and read them. Tests get ``Verdict`` objects back.
"""

from __future__ import annotations

import fcntl
import json
import os

import pytest

from ppverify.claims import Verdict, check_claims


def _to_verdict(record: dict) -> Verdict:
    record = dict(record)
    record.pop("deciders", None)
    return Verdict(**record)


@pytest.fixture(scope="session")
def all_verdicts(tmp_path_factory) -> dict[str, Verdict]:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = tmp_path_factory.getbasetemp().parent
    else:
        root = tmp_path_factory.mktemp("claims")
    path = root / "ppverify_all_verdicts.json"
    with open(root / "ppverify_all_verdicts.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            records = [v.to_json() for v in check_claims()]
            path.write_text(json.dumps(records))
        records = json.loads(path.read_text())
    return {r["id"]: _to_verdict(r) for r in records}
