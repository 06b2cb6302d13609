"""Where every sent token of the agent corpus goes: the tool outputs' tokens after compression, per format.

    .venv/bin/python benchmarks/agents_account.py [--data FILE]

Each sent token of a tool output is in one of these:
  whole: floor      an output under the size floor (compressors.MIN_TOKENS), sent as it is
  whole: exact      what the agent needs exactly (Edit/Write results, `git status`, `wc`...)
  whole: error      an error output read whole (under ERROR_WHOLE_MAX_TOKENS)
  whole: other      over the floor but sent as it was: the question is about most of it, or folding it
                    did not pay (MIN_SAVING), or it was a retrieval output
  kept lines        the lines a compressed output keeps (relevant to the question, or kept by structure)
  agent notes       the agent's own notes in a compressed output (reminders, exit codes, truncation notes)
  marker fixed      the part every marker repeats: "[headroom: ", the key's label, the key and "]"
  marker naming     what a marker says it hides (its summary)
Printed as tokens and as a share of all that is sent, per kind, per agent and in total.
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tabulate import tabulate  # noqa: E402

from headroom.core import tokens  # noqa: E402
from headroom.core.compressors import ERROR_WHOLE_MAX_TOKENS, EXACT_WHOLE_MAX_TOKENS, MIN_TOKENS, _TRACEBACK  # noqa: E402
from headroom.core.compressors import views  # noqa: E402
from headroom.core.compressors.base import Context  # noqa: E402
from headroom.core.markers import find_markers  # noqa: E402
from headroom.core.pipeline import compress_body, find_units  # noqa: E402
from headroom.evals.agents import agent_cases, load_agent_cases  # noqa: E402

PARTS = ("whole: floor", "whole: exact", "whole: error", "whole: other", "kept lines", "agent notes",
         "marker fixed", "marker naming")


def account_case(case) -> dict[str, int]:
    out = dict.fromkeys(PARTS, 0)
    outcome = compress_body(case.provider, case.body, path=case.path)
    originals = find_units(case.provider, case.body)
    sent = find_units(case.provider, outcome.body)
    assert len(originals) == len(sent) == len(outcome.units)
    enc = "o200k_base"
    for orig, new, rep in zip(originals, sent, outcome.units):
        if rep.tokens_after == rep.tokens_before and new.text == orig.text:
            ctx = Context(query=orig.query, tool_name=orig.tool_name, is_error=orig.is_error,
                          tool_args=orig.tool_args)
            n = rep.tokens_before
            if n <= EXACT_WHOLE_MAX_TOKENS and views.wants_exact(ctx):
                out["whole: exact"] += n
            elif n < MIN_TOKENS:
                out["whole: floor"] += n
            elif (orig.is_error or _TRACEBACK.search(orig.text[:20000])) and n <= ERROR_WHOLE_MAX_TOKENS:
                out["whole: error"] += n
            else:
                out["whole: other"] += n
            continue
        after = rep.tokens_after
        fixed = naming = 0
        for m in find_markers(new.text):
            whole = tokens.count(new.text[m.start:m.end], enc)
            name = tokens.count(m.summary, enc)
            naming += name
            fixed += whole - name
        lines = orig.text.split("\n")
        segs = views.segments(lines, file_read=views._reads_files(
            Context(tool_name=orig.tool_name, tool_args=orig.tool_args))) or []
        notes = sum(tokens.count("\n".join(lines[s:e]), enc) for k, s, e in segs if k == "note")
        out["marker fixed"] += fixed
        out["marker naming"] += naming
        out["agent notes"] += min(notes, max(0, after - fixed - naming))
        out["kept lines"] += max(0, after - fixed - naming - notes)
    return out


def _row(name: str, accts: list[dict[str, int]]) -> list:
    tot = {p: sum(a[p] for a in accts) for p in PARTS}
    sent = sum(tot.values())
    return [name, sent, *(f"{tot[p]} ({100 * tot[p] / sent:.1f}%)" if sent else "0" for p in PARTS)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, help="a corpus file (.jsonl.gz) to run on instead of the shipped one")
    args = p.parse_args(argv)
    cases = load_agent_cases(args.data) if args.data else agent_cases()
    by_kind: dict[str, list[dict[str, int]]] = defaultdict(list)
    by_agent: dict[str, list[dict[str, int]]] = defaultdict(list)
    for c in cases:
        a = account_case(c)
        by_kind[c.kind].append(a)
        by_agent[c.agent].append(a)
    rows = [_row(k, by_kind[k]) for k in sorted(by_kind)]
    rows += [_row(k, by_agent[k]) for k in sorted(by_agent)]
    rows.append(_row("ALL", [a for v in by_agent.values() for a in v]))
    print(tabulate(rows, headers=["kind", "sent", *PARTS], tablefmt="github"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
