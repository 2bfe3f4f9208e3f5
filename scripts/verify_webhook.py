#!/usr/bin/env python3
"""Verifies one webhook delivery with the official Standard Webhooks library.

Reads {"secret": "whsec_...", "headers": {...}, "body": "..."} on stdin;
exits 0 when the signature verifies, 1 when it does not, 3 when the
`standardwebhooks` package is missing (pip install standardwebhooks).
"""
import json
import sys

try:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError
except ImportError:
    sys.exit(3)

delivery = json.load(sys.stdin)
try:
    Webhook(delivery["secret"]).verify(delivery["body"], delivery["headers"])
except WebhookVerificationError as err:
    print(f"not verified: {err}", file=sys.stderr)
    sys.exit(1)
