"""``python tests/browser/session_probe_server.py <streamlit run options>``: runs
``streamlit run app.py`` in this process with a probe thread for tests. When the file
``$SESSION_PROBE_DIR/ask`` appears, the probe runs ``gc.collect()`` and writes
``$SESSION_PROBE_DIR/answer.json``: the ids of the AppSession objects still alive in the server
and how many SessionState objects and uploaded cohorts are. Test-only: the app itself has no such hook."""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def answer() -> dict:
    from streamlit.runtime.app_session import AppSession
    from streamlit.runtime.state.session_state import SessionState

    from cohort.schema import Cohort

    gc.collect()
    objects = gc.get_objects()
    found = {"app_sessions": [o.id for o in objects if isinstance(o, AppSession)],
             "session_states": sum(isinstance(o, SessionState) for o in objects),
             "uploaded_cohorts": sum(isinstance(o, Cohort) and o.provenance.startswith("Uploaded")
                                     for o in objects)}
    del objects
    return found


def serve(folder: Path) -> None:
    ask, reply = folder / "ask", folder / "answer.json"
    while True:
        if ask.exists():
            ask.unlink()
            partial = folder / "answer.tmp"
            partial.write_text(json.dumps(answer()))
            partial.replace(reply)
        time.sleep(0.2)


if __name__ == "__main__":
    threading.Thread(target=serve, args=(Path(os.environ["SESSION_PROBE_DIR"]),), daemon=True,
                     name="session-probe").start()
    from streamlit.web import cli

    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    sys.argv = ["streamlit", "run", str(ROOT / "app.py"), *sys.argv[1:]]
    sys.exit(cli.main())
