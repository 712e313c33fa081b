#!/usr/bin/env python3
"""Signs Slack request bodies with Slack's own SDK, for ferrbot's Events API tests.

Run from a venv with slack_sdk installed:

    python3 -m venv /var/tmp/ferrbot-slack-venv
    /var/tmp/ferrbot-slack-venv/bin/pip install slack_sdk
    /var/tmp/ferrbot-slack-venv/bin/python gen_signed_requests.py > signed_requests.json

The secret and timestamps are fixed, so the output is reproducible; the tests verify these
requests with a clock set next to the timestamps (they are not valid against real time).
"""

import json
import urllib.parse

import slack_sdk
from slack_sdk.signature import Clock, SignatureVerifier

SECRET = "ferrbot-test-signing-secret"
BASE_TS = 1700000000


class FixedClock(Clock):
    def __init__(self, now):
        self._now = now

    def now(self):
        return self._now


def compact(value):
    return json.dumps(value, separators=(",", ":"))


def signed(name, path, content_type, body, ts):
    verifier = SignatureVerifier(SECRET, clock=FixedClock(ts))
    signature = verifier.generate_signature(timestamp=str(ts), body=body)
    # Slack's SDK itself accepts what it signed, at that time.
    assert verifier.is_valid(body=body, timestamp=str(ts), signature=signature)
    return {
        "name": name,
        "path": path,
        "content_type": content_type,
        "timestamp": str(ts),
        "signature": signature,
        "body": body,
    }


def main():
    url_verification = compact(
        {
            "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    )
    help_event = compact(
        {
            "token": "XXYYZZ",
            "team_id": "T0FAKE",
            "api_app_id": "A0FAKE",
            "event": {
                "type": "message",
                "channel": "C0SIGNED",
                "user": "U0ALICE",
                "text": "!help",
                "ts": "1700000010.000100",
                "channel_type": "channel",
                "event_ts": "1700000010.000100",
            },
            "type": "event_callback",
            "event_id": "Ev0SIGNED1",
            "event_time": 1700000010,
        }
    )
    click = compact(
        {
            "type": "block_actions",
            "team": {"id": "T0FAKE", "domain": "fake"},
            "user": {"id": "U0BOB", "username": "bob", "team_id": "T0FAKE"},
            "api_app_id": "A0FAKE",
            "token": "XXYYZZ",
            "container": {
                "type": "message",
                "message_ts": "1700000015.000200",
                "channel_id": "C0SIGNED",
                "is_ephemeral": False,
            },
            "trigger_id": "1.2.3",
            "channel": {"id": "C0SIGNED", "name": "signed"},
            "message": {"type": "message", "ts": "1700000015.000200", "text": "Deploy 42"},
            "response_url": "https://hooks.slack.com/actions/T0FAKE/1/abc",
            "actions": [
                {
                    "type": "button",
                    "action_id": "ferrbot_action_0",
                    "block_id": "b1",
                    "text": {"type": "plain_text", "text": "Who am I?", "emoji": True},
                    "value": "whoami",
                    "action_ts": "1700000020.000300",
                }
            ],
        }
    )
    click_form = urllib.parse.urlencode({"payload": click})
    slash_form = urllib.parse.urlencode(
        {
            "token": "XXYYZZ",
            "team_id": "T0FAKE",
            "team_domain": "fake",
            "channel_id": "C0SIGNED",
            "channel_name": "signed",
            "user_id": "U0ALICE",
            "user_name": "alice",
            "command": "/ferrbot",
            "text": "whoami",
            "api_app_id": "A0FAKE",
            "trigger_id": "4.5.6",
        }
    )
    form = "application/x-www-form-urlencoded"
    out = {
        "source": "slack_sdk.signature.SignatureVerifier.generate_signature",
        "slack_sdk_version": slack_sdk.version.__version__,
        "signing_secret": SECRET,
        "requests": [
            signed("url_verification", "events", "application/json", url_verification, BASE_TS),
            signed("message_help", "events", "application/json", help_event, BASE_TS + 10),
            signed("block_actions_whoami", "interactivity", form, click_form, BASE_TS + 20),
            signed("slash_whoami", "commands", form, slash_form, BASE_TS + 30),
        ],
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
