"""Runs scim2-tester's every check against a roster SCIM endpoint.

    python scripts/scim_conformance.py URL TOKEN

Prints one line per check and a count; exits 1 unless every check is a
SUCCESS (a SKIPPED check fails too: it is a check that did not run).
"""

import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


def main() -> int:
    url, token = sys.argv[1], sys.argv[2]
    http = Client(
        base_url=url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    client = SyncSCIMClient(http)
    results = check_server(client, raise_exceptions=False)
    failed = 0
    for result in results:
        ok = result.status == Status.SUCCESS
        failed += not ok
        where = f"[{result.resource_type}] " if result.resource_type else ""
        print(f"{result.status.name:8} {where}{result.title}: {result.reason}")
    passed = len(results) - failed
    print(f"scim2-tester: {len(results)} checks run, {passed} passed, {failed} not passed")
    return 0 if results and failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
