"""The embedded broker publishes each message file whole: a reader never sees a half-written one."""

import json
import os

from kombu import Connection

from postbacks_project.broker import Transport


def test_a_message_is_never_visible_under_its_final_name_before_it_is_written(tmp_path, monkeypatch):
    folder = tmp_path / "queue"
    folder.mkdir()
    seen = []
    real_replace = os.replace

    def watch(source, target):
        # at the moment of the rename, no readable message exists yet and the partial file is complete
        seen.append(sorted(os.listdir(folder)))
        with open(source, "rb") as handle:
            assert json.loads(handle.read())
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", watch)
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "control_folder": str(tmp_path)}
    with Connection("filesystem://localhost/", transport_options=options) as connection:
        assert isinstance(connection.transport, Transport)
        queue = connection.SimpleQueue("q")
        queue.put({"hello": "world"})
        message = queue.get(timeout=1)

    assert message.payload == {"hello": "world"}
    assert seen
    assert all(name.endswith(".msg.part") for names in seen for name in names)
