"""Print a pip.conf naming the package indexes pip uses on this host, for the image build.

Reads ``pip config list`` on stdin. Keeps only http(s) indexes (a local ``file://`` index is
not reachable from inside a build) and trusted hosts; prints nothing when there is none, so
the build uses pip's default index. image/build.sh passes the result as a build secret, so
credentials in an index URL never reach an image layer or the build history.
"""

from __future__ import annotations

import re
import sys

_LINE = re.compile(r"^[^.]*\.(index-url|extra-index-url|trusted-host)=(.*)$")


def pip_conf(config_list: str) -> str:
    found: dict[str, list[str]] = {}
    for line in config_list.splitlines():
        match = _LINE.match(line.strip())
        if match:
            found.setdefault(match[1], []).extend(match[2].strip("'\"").split())
    kept = {
        key: [v for v in values if key == "trusted-host" or v.startswith(("http://", "https://"))]
        for key, values in found.items()
    }
    if not any(kept.get(key) for key in ("index-url", "extra-index-url")):
        return ""
    lines = ["[global]"]
    for key, values in sorted(kept.items()):
        if values:
            lines.append(f"{key} = {values[0] if key == 'index-url' else ' '.join(values)}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(pip_conf(sys.stdin.read()))
