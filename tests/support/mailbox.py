"""The emails a subprocess sent through Django's file backend (EMAIL_URL=filemail:///folder): a test reads them."""

from email import message_from_string, policy
from pathlib import Path

# The file backend writes each message followed by a line of 79 dashes; one file holds a connection's messages.
SEPARATOR = "\n" + "-" * 79 + "\n"


class Mailbox:
    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    @property
    def env(self):
        # django-environ drops the path's first slash: an absolute folder needs four.
        return {"EMAIL_URL": f"filemail:///{self.folder.resolve()}"}

    def messages(self):
        found = []
        for path in sorted(self.folder.glob("*.log"), key=lambda p: p.stat().st_mtime_ns):
            parts = [part for part in path.read_text().split(SEPARATOR) if part.strip()]
            found += [message_from_string(part, policy=policy.default) for part in parts]
        return found

    def subjects(self):
        return [message["Subject"] for message in self.messages()]
