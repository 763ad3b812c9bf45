"""Shared by the Python interop flows: the emulator's coordinates, a checker that counts calls
and assertions, and the record of what the webhook must have received.

Inputs (set by `cargo xtask interop`):
  ACS_INTEROP_CONNECTION_STRING  the emulator's connection string
  ACS_INTEROP_ENDPOINT           its endpoint (https://127.0.0.1:PORT/)
  ACS_INTEROP_CA                 the CA certificate file to trust
  ACS_INTEROP_OUT                where to write the result (JSON)
  ACS_INTEROP_STATE              (persistence steps) the file handed from before a restart to after

Tokens and keys are never printed.
"""

import datetime
import json
import os
import re
import sys
import traceback


def expiry(token):
    """An AccessToken's expires_on as an aware datetime (azure-communication-identity 1.5.0 gives
    the service's ISO 8601 string as it came)."""
    value = token.expires_on
    if isinstance(value, datetime.datetime):
        return value
    # Python 3.11 reads at most 6 fractional digits; the service may send 7.
    value = re.sub(r"(\.\d{6})\d+", r"\1", value)
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"interop: the environment variable {name} is not set")
    return value


class Failed(Exception):
    """An assertion about what the SDK got did not hold."""


class Checker:
    def __init__(self, flow):
        self.flow = flow
        self.calls = 0
        self.assertions = 0
        self.step = "start"
        self.threads_created = []
        self.threads_deleted = []
        self.messages = []

    def call(self, step):
        """Counts one SDK call (or one page fetched) and names the step for error messages."""
        self.step = step
        self.calls += 1

    def check(self, condition, what):
        self.assertions += 1
        if not condition:
            raise Failed(f"{what}")

    def equal(self, got, want, what):
        self.assertions += 1
        if got != want:
            raise Failed(f"{what}: got {got!r}, want {want!r}")

    def sent(self, thread_id, message_id, recipients):
        """A message the webhook must deliver: a thread-level event and one per recipient."""
        self.messages.append(
            {"threadId": thread_id, "id": message_id, "recipients": sorted(recipients)}
        )

    def write(self, extra=None):
        result = {
            "flow": self.flow,
            "calls": self.calls,
            "assertions": self.assertions,
            "events": {
                "threadsCreated": self.threads_created,
                "threadsDeleted": self.threads_deleted,
                "messages": self.messages,
            },
        }
        if extra:
            result.update(extra)
        with open(env("ACS_INTEROP_OUT"), "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)


def run(checker, body):
    """Runs `body(checker)`; on any failure says where and exits 1."""
    try:
        body(checker)
    except Failed as e:
        print(f"{checker.flow}: FAILED at step `{checker.step}`: {e}", file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # an SDK error where none was expected
        traceback.print_exc()
        print(
            f"{checker.flow}: FAILED at step `{checker.step}`: {type(e).__name__}: {e}",
            file=sys.stderr,
        )
        sys.exit(1)
    checker.write()
    print(f"{checker.flow}: ok ({checker.calls} calls, {checker.assertions} assertions)")
