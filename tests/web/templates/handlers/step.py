#!/usr/bin/env python3
"""Every step of web_test/checkout and web_test/approval (tests/web/browser_test.py), as a command handler.

`charge` fails permanently, with markup in its message (the page must show it
as text), until the file named by the context's `gateway_fixed` exists; every
other step succeeds at once with a small result.
"""
import json
import os
import sys

step = json.load(sys.stdin)
if step["step_name"] == "charge" and not os.path.exists(step["context"].get("gateway_fixed", "")):
    json.dump({"message": "card declined <b>by</b> the <script>gateway</script>"}, sys.stdout)
    sys.exit(10)
json.dump({"step": step["step_name"], "attempt": step["attempt"]}, sys.stdout)
