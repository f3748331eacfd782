"""Reads verification cases (JSONL: id, response, gold) on stdin and writes
Hugging Face Math-Verify's verdict for each (JSONL: id, mv, extracted) to stdout.

Gold is parsed as Math-Verify's README recommends for a gold answer
(LaTeX wrapped in $…$, plus plain expressions); the response with its default
extraction configs. Used by reward-diff.ts; needs `pip install math-verify`.
"""
import json
import sys

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify


def main() -> None:
    for line in sys.stdin:
        case = json.loads(line)
        try:
            gold = parse(f"${case['gold']}$", extraction_config=[LatexExtractionConfig(), ExprExtractionConfig()], parsing_timeout=5)
            pred = parse(case["response"], parsing_timeout=5)
            ok = bool(verify(gold, pred, timeout_seconds=5))
            extracted = str(pred[1]) if len(pred) > 1 else (str(pred[0]) if pred else "")
            out = {"id": case["id"], "mv": "CORRECT" if ok else ("NO_ANSWER" if not pred else "WRONG"), "extracted": extracted[:120]}
        except Exception as exc:  # noqa: BLE001 - report, never crash the run
            out = {"id": case["id"], "mv": "ERROR", "extracted": repr(exc)[:120]}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
