"""What every benchmark shares: the machine it ran on, and its own section of bench/RESULTS.md
(between `<!-- NAME:start -->` and `<!-- NAME:end -->`; the other benches keep theirs)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
LOAD_AT_START = os.getloadavg()[0]  # when the bench started (this module is imported first)


def busy() -> str:
    """How busy the machine was: figures on a shared machine are slower than on a quiet one."""
    return (
        f"load average {LOAD_AT_START:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, "
        f"on {os.cpu_count()} cores"
    )


def machine(*extra: str) -> str:
    """The processor, cores, memory and Python, as a results file names the machine."""
    cpu = "unknown processor"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return ", ".join(
        [
            cpu,
            f"{os.cpu_count()} cores",
            f"{memory:.0f} GB memory",
            f"Python {platform.python_version()}",
            *extra,
        ]
    )


def write_section(name: str, text: str | list[str], path: Path = RESULTS) -> None:
    """Replace the bench `name`'s section of the results file with `text` (or add it)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    body = "\n".join(text) if isinstance(text, list) else text
    block = f"{start}\n{body.rstrip()}\n{end}"
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if start in old and end in old:
        new = old[: old.index(start)] + block + old[old.index(end) + len(end) :]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(new, encoding="utf-8")
